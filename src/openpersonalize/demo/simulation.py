"""Seeded shopper simulation: who views, carts and buys what, and when (pure numpy).

How the shoppers behave:

- Each shopper has the three preferred categories of its persona (``housewares_tools_beauty``)
  with its own weights among them (Dirichlet), and its own taste for exploring (~12% on average).
- Its visits (sessions; 1 + Poisson with a Gamma-distributed mean, so ~8 on average and
  heavy-tailed) start at uniformly random times in the ``WINDOW_DAYS`` days before the end time.
  Each session browses one category: one of the shopper's three, or when exploring any category.
- A session is a burst of ``View`` events (1 + Poisson, ~5 on average) about a minute apart. The
  viewed item is drawn by popularity within the category: Zipf-like weights over a seeded ranking
  of the category's items, with items meant for the other gender (``gender_affinity``) much less
  likely.
- A view may lead to ``AddToCart`` (~11% before adjustments) seconds later, and a cart to
  ``Purchase`` (~45%) minutes later. Both steps are less likely outside the shopper's categories
  and depend on its discount persona: ``lower_priced_products`` favours items cheaper than their
  category's median price, ``all_discounts`` favours items shown at a discount (~30% of views)
  and mostly skips the rest, ``discount_indifferent`` ignores price and discount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from openpersonalize.demo.bundled_catalog import persona_categories

WINDOW_DAYS = 60
DAY_SECONDS = 86_400
EVENT_TYPES = ("View", "AddToCart", "Purchase")
GENDERS = ("F", "M")  # any other value gets code len(GENDERS): no gender affinity either way
DISCOUNT_PERSONAS = ("lower_priced_products", "all_discounts", "discount_indifferent")

ZIPF_EXPONENT = 1.05
OTHER_GENDER_WEIGHT = 0.12
MEAN_EXPLORE_SHARE = 0.125
CART_RATE = 0.11
PURCHASE_RATE = 0.45
DISCOUNT_SHARE = 0.3
OUTSIDE_PERSONA_FACTOR = 0.4
MAX_STEP_PROBABILITY = 0.9
SESSION_MARGIN_SECONDS = 6 * 3600  # sessions start this long before the end, so they fit the window


@dataclass(frozen=True)
class Catalog:
    """The products as arrays, with a per-(category, gender) popularity sampler."""

    categories: tuple[str, ...]
    item_category: np.ndarray  # category code per item
    item_price: np.ndarray
    median_price: np.ndarray  # per category code
    samplers: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]  # (category, gender) -> (items, CDF)

    @classmethod
    def build(cls, products: pa.Table, rng: np.random.Generator) -> Catalog:
        names = products["CATEGORY"].to_pylist()
        categories = tuple(sorted(set(names)))
        code = {name: i for i, name in enumerate(categories)}
        item_category = np.array([code[name] for name in names], dtype=np.int64)
        price = products["PRICE"].to_numpy().astype(np.float64)
        affinity = np.array(products["GENDER_AFFINITY"].fill_null("").to_pylist(), dtype=object)

        popularity = np.empty(len(names))
        for c in range(len(categories)):
            members = np.flatnonzero(item_category == c)
            popularity[members] = 1.0 / (rng.permutation(len(members)) + 1.0) ** ZIPF_EXPONENT
        samplers = {}
        for g in range(len(GENDERS) + 1):
            if g < len(GENDERS):
                mismatch = (affinity != "") & (affinity != GENDERS[g])
            else:
                mismatch = np.zeros(len(names), dtype=bool)
            weight = popularity * np.where(mismatch, OTHER_GENDER_WEIGHT, 1.0)
            for c in range(len(categories)):
                members = np.flatnonzero(item_category == c)
                cdf = np.cumsum(weight[members])
                samplers[(c, g)] = (members, cdf / cdf[-1])
        median = np.array([np.median(price[item_category == c]) for c in range(len(categories))])
        return cls(categories, item_category, price, median, samplers)

    def sample(self, category: np.ndarray, gender: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per (category, gender) pair, drawn by popularity."""
        items = np.empty(len(category), dtype=np.int64)
        draws = rng.random(len(category))
        groups = len(GENDERS) + 1
        key = category * groups + gender
        for k in np.unique(key):
            rows = np.flatnonzero(key == k)
            members, cdf = self.samplers[(int(k) // groups, int(k) % groups)]
            picked = np.searchsorted(cdf, draws[rows], side="right").clip(max=len(members) - 1)
            items[rows] = members[picked]
        return items


@dataclass(frozen=True)
class Events:
    """Parallel arrays, sorted by (timestamp, user, event type)."""

    user: np.ndarray  # row in the users table
    item: np.ndarray  # row in the products table
    event_type: np.ndarray  # index into EVENT_TYPES
    timestamp: np.ndarray  # epoch seconds
    discount: np.ndarray  # bool: shown at a discount


def simulate(catalog: Catalog, users: pa.Table, rng: np.random.Generator, end: int) -> Events:
    """Events of ``users`` (USER_ID, GENDER, PERSONA, DISCOUNT_PERSONA) in the window ending at ``end``."""
    n = users.num_rows
    code = {name: i for i, name in enumerate(catalog.categories)}
    preferred = np.array([[code[c] for c in persona_categories(p)] for p in users["PERSONA"].to_pylist()])
    gender = np.array(
        [GENDERS.index(g) if g in GENDERS else len(GENDERS) for g in users["GENDER"].to_pylist()]
    )
    discount_persona = np.array([DISCOUNT_PERSONAS.index(d) for d in users["DISCOUNT_PERSONA"].to_pylist()])

    # Per-shopper habits.
    preference_cdf = np.cumsum(rng.dirichlet([2.0, 2.0, 2.0], size=n), axis=1)
    explore_share = rng.beta(2.0, 2.0 / MEAN_EXPLORE_SHARE - 2.0, size=n)
    sessions_per_user = 1 + rng.poisson(rng.gamma(2.0, 3.5, size=n))
    views_per_session = rng.gamma(4.0, 1.0, size=n)
    cart_propensity = rng.lognormal(0.0, 0.4, size=n)

    # Sessions: who, which category, when, how many views.
    s_user = np.repeat(np.arange(n), sessions_per_user)
    sessions = len(s_user)
    slot = (rng.random(sessions)[:, None] > preference_cdf[s_user]).sum(axis=1).clip(max=2)
    explores = rng.random(sessions) < explore_share[s_user]
    s_category = np.where(
        explores, rng.integers(0, len(catalog.categories), size=sessions), preferred[s_user, slot]
    )
    window = WINDOW_DAYS * DAY_SECONDS
    s_start = end - window + (rng.random(sessions) * (window - SESSION_MARGIN_SECONDS)).astype(np.int64)
    s_views = 1 + rng.poisson(views_per_session[s_user])

    # Views: a minute or so apart within their session.
    v_session = np.repeat(np.arange(sessions), s_views)
    elapsed = np.cumsum(rng.exponential(60.0, size=len(v_session)) + 5.0)
    first_view = np.cumsum(s_views) - s_views
    v_offset = elapsed - elapsed[first_view][v_session]
    v_user = s_user[v_session]
    v_time = s_start[v_session] + v_offset.astype(np.int64)
    v_category = s_category[v_session]
    v_item = catalog.sample(v_category, gender[v_user], rng)
    v_discount = rng.random(len(v_session)) < DISCOUNT_SHARE

    # The funnel: how much likelier than average this view is to be carted and bought.
    appeal = np.ones(len(v_session))
    in_persona = (preferred[v_user] == v_category[:, None]).any(axis=1)
    appeal[~in_persona] *= OUTSIDE_PERSONA_FACTOR
    price_ratio = catalog.median_price[v_category] / catalog.item_price[v_item]
    bargain_hunter = discount_persona[v_user] == DISCOUNT_PERSONAS.index("lower_priced_products")
    appeal[bargain_hunter] *= np.clip(price_ratio[bargain_hunter] ** 0.8, 0.2, 3.0)
    deal_seeker = discount_persona[v_user] == DISCOUNT_PERSONAS.index("all_discounts")
    appeal[deal_seeker] *= np.where(v_discount[deal_seeker], 2.5, 0.4)
    carted = rng.random(len(v_session)) < np.minimum(
        CART_RATE * cart_propensity[v_user] * appeal, MAX_STEP_PROBABILITY
    )
    bought = carted & (rng.random(len(v_session)) < np.minimum(PURCHASE_RATE * appeal, MAX_STEP_PROBABILITY))
    cart_time = v_time + 5 + rng.exponential(40.0, size=len(v_session)).astype(np.int64)
    buy_time = cart_time + 30 + rng.exponential(300.0, size=len(v_session)).astype(np.int64)

    user = np.concatenate([v_user, v_user[carted], v_user[bought]])
    item = np.concatenate([v_item, v_item[carted], v_item[bought]])
    event_type = np.repeat(np.arange(3), [len(v_session), int(carted.sum()), int(bought.sum())])
    timestamp = np.minimum(np.concatenate([v_time, cart_time[carted], buy_time[bought]]), end)
    discount = np.concatenate([v_discount, v_discount[carted], v_discount[bought]])
    order = np.lexsort((event_type, user, timestamp))
    return Events(user[order], item[order], event_type[order], timestamp[order], discount[order])
