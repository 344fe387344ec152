"""A/B experiments: variants (campaigns or recommenders) sharing a population of users, compared on
a metric attribution's metrics.

A user's variant is fixed by a hash of the experiment's name and the user's id, so every server
process (and machine) assigns the same one without coordination. Each answer a variant gives is
counted ("SERVED", per 15-minute window, in the metric series under the experiment's ARN); the
variant's campaign or recommender ARN is what metric attribution credits for the events that echo
the answer's recommendationId. Results: each variant's rate of a metric per answer served, a 95%
Wilson interval for count metrics, and a two-proportion z-test of the best variant against each
other one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpersonalize.errors import InvalidInput

SERVED = "SERVED"
Z_95 = 1.959964
MIN_SERVED = 100  # answers per variant before a winner may be called


@dataclass(frozen=True)
class Variant:
    name: str
    arn: str  # the campaign's or recommender's
    share: float


def parse_variants(raw: Any) -> tuple[Variant, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise InvalidInput("variants must list at least two variants.")
    variants = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise InvalidInput(f"variants[{index}].name is required.")
        arn = item.get("campaignArn") or item.get("recommenderArn") or item.get("arn")  # "arn": as stored
        if not isinstance(arn, str) or not arn:
            raise InvalidInput(f"variants[{index}]: give campaignArn or recommenderArn.")
        share = item.get("share", 1.0)
        if not isinstance(share, int | float) or share <= 0:
            raise InvalidInput(f"variants[{index}].share must be a positive number.")
        variants.append(Variant(item["name"], arn, float(share)))
    if len({v.name for v in variants}) != len(variants):
        raise InvalidInput("variants: each name once.")
    return tuple(variants)


def assign(experiment: str, user_id: str, variants: Sequence[Variant]) -> Variant:
    """The user's variant: the same in every process, in proportion to the shares."""
    digest = hashlib.sha256(f"{experiment}\x1f{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.share for v in variants)
    for variant in variants:
        point -= variant.share
        if point < 0:
            return variant
    return variants[-1]


def wilson(successes: float, trials: float) -> tuple[float, float]:
    """95% interval of a rate (successes may exceed trials for multi-click answers: capped)."""
    if trials <= 0:
        return (0.0, 0.0)
    p = min(1.0, successes / trials)
    centre = p + Z_95**2 / (2 * trials)
    margin = Z_95 * math.sqrt(p * (1 - p) / trials + Z_95**2 / (4 * trials**2))
    scale = 1 + Z_95**2 / trials
    return (max(0.0, (centre - margin) / scale), min(1.0, (centre + margin) / scale))


def two_proportion_p(a: float, n_a: float, b: float, n_b: float) -> float:
    """Two-sided p-value that two rates differ (normal approximation)."""
    if n_a <= 0 or n_b <= 0:
        return 1.0
    pa, pb = min(1.0, a / n_a), min(1.0, b / n_b)
    pooled = min(1.0, (a + b) / (n_a + n_b))
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0
    z = abs(pa - pb) / se
    return math.erfc(z / math.sqrt(2))


def results(
    variants: Sequence[Variant],
    served: Mapping[str, float],
    totals: Mapping[str, Mapping[str, float]],
    functions: Mapping[str, str],
) -> dict[str, Any]:
    """Per metric: each variant's value per answer served (and its interval for count metrics),
    and the winner when the best variant beats every other at p < 0.05 with enough answers."""
    out: dict[str, Any] = {"served": {v.name: served.get(v.arn, 0.0) for v in variants}, "metrics": {}}
    for metric, by_source in totals.items():
        rows = {}
        for v in variants:
            n, value = served.get(v.arn, 0.0), by_source.get(v.arn, 0.0)
            row: dict[str, Any] = {"value": value, "perAnswer": value / n if n else 0.0}
            if functions.get(metric) == "samplecount":
                row["interval"] = list(wilson(value, n))
            rows[v.name] = row
        winner = None
        if functions.get(metric) == "samplecount":
            best = max(variants, key=lambda v: rows[v.name]["perAnswer"])
            others = [v for v in variants if v is not best]
            n_best = served.get(best.arn, 0.0)
            if n_best >= MIN_SERVED and all(
                served.get(o.arn, 0.0) >= MIN_SERVED
                and two_proportion_p(
                    by_source.get(best.arn, 0.0), n_best, by_source.get(o.arn, 0.0), served.get(o.arn, 0.0)
                )
                < 0.05  # fmt: skip
                for o in others
            ):
                winner = best.name
        out["metrics"][metric] = {"variants": rows, "winner": winner}
    return out
