"""The bundled demo catalog and the seeded demo datasets built from it."""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from openpersonalize.data.csv_import import arrow_schema_for, read_csv
from openpersonalize.data.schema import check_dataset_type, parse_schema
from openpersonalize.demo import DemoData, bundled_catalog, load_demo_data, product_info
from openpersonalize.demo.simulation import DAY_SECONDS, WINDOW_DAYS
from tests.fixtures.requirements import shared_data

END = 1_750_000_000
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return load_demo_data(end_time=END)


@pytest.fixture(scope="module")
def categories(demo: DemoData) -> dict[str, str]:
    return dict(zip(demo.items["ITEM_ID"].to_pylist(), demo.items["CATEGORY"].to_pylist(), strict=True))


def _rows(demo: DemoData) -> list[dict[str, Any]]:
    return demo.interactions.to_pylist()


def test_same_seed_gives_the_same_data_and_another_seed_does_not(demo: DemoData) -> None:
    again = load_demo_data(end_time=END)
    assert again.interactions.equals(demo.interactions)
    assert again.items.equals(demo.items)
    assert again.users.equals(demo.users)
    other = load_demo_data(end_time=END, seed=8)
    assert not other.interactions.equals(demo.interactions)


@pytest.mark.parametrize("dataset_type", ["INTERACTIONS", "ITEMS", "USERS"])
def test_schemas_are_valid_personalize_schemas_and_type_the_tables(demo: DemoData, dataset_type: str) -> None:
    parsed = parse_schema(demo.schemas[dataset_type])
    check_dataset_type(parsed, dataset_type)
    table = getattr(demo, dataset_type.lower())
    assert table.schema == arrow_schema_for(parsed)


def test_written_csvs_import_to_the_same_tables(demo: DemoData, tmp_path: Path) -> None:
    paths = demo.write_csvs(tmp_path / "csv")
    assert set(paths) == {"INTERACTIONS", "ITEMS", "USERS"}
    for dataset_type, path in paths.items():
        imported = read_csv(path, parse_schema(demo.schemas[dataset_type]), file_name=path.name)
        assert imported.equals(getattr(demo, dataset_type.lower())), dataset_type
    header = paths["ITEMS"].read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(demo.items.column_names)


def test_written_csvs_keep_quotes_commas_backslashes_and_newlines(demo: DemoData, tmp_path: Path) -> None:
    awkward = 'A "quoted", comma\\backslash\nand a second line'
    items = demo.items.slice(0, 2).set_column(
        demo.items.column_names.index("DESCRIPTION"), "DESCRIPTION", pa.array([awkward, "plain"])
    )
    tricky = DemoData(demo.interactions.slice(0, 3), items, demo.users.slice(0, 3), demo.schemas)
    path = tricky.write_csvs(tmp_path)["ITEMS"]
    imported = read_csv(path, parse_schema(demo.schemas["ITEMS"]), file_name=path.name)
    assert imported["DESCRIPTION"].to_pylist() == [awkward, "plain"]


def test_enough_data_to_train_on(demo: DemoData) -> None:
    per_user = Counter(demo.interactions["USER_ID"].to_pylist())
    assert 60_000 <= demo.interactions.num_rows <= 100_000
    assert sum(1 for count in per_user.values() if count >= 2) >= 25
    assert set(per_user) == set(demo.users["USER_ID"].to_pylist())
    assert demo.users.num_rows == 1500
    assert set(demo.interactions["ITEM_ID"].to_pylist()) <= set(demo.items["ITEM_ID"].to_pylist())


def test_small_demo_still_meets_the_training_minimums() -> None:
    small = load_demo_data(n_users=60, end_time=END)
    per_user = Counter(small.interactions["USER_ID"].to_pylist())
    assert small.users.num_rows == 60
    assert small.interactions.num_rows >= 1000
    assert sum(1 for count in per_user.values() if count >= 2) >= 25


@pytest.mark.parametrize("n_users", [0, 5251])
def test_rejects_impossible_user_counts(n_users: int) -> None:
    with pytest.raises(ValueError, match="n_users"):
        load_demo_data(n_users=n_users, end_time=END)


def test_events_fall_in_the_window_after_item_creation(demo: DemoData) -> None:
    timestamps = demo.interactions["TIMESTAMP"].to_pylist()
    window_start = END - WINDOW_DAYS * DAY_SECONDS
    assert window_start <= min(timestamps) and max(timestamps) <= END
    assert max(demo.items["CREATION_TIMESTAMP"].to_pylist()) < window_start
    assert timestamps == sorted(timestamps)


def test_default_end_time_is_now() -> None:
    before = int(time.time())
    timestamps = load_demo_data(n_users=20).interactions["TIMESTAMP"].to_pylist()
    assert before - WINDOW_DAYS * DAY_SECONDS <= min(timestamps) and max(timestamps) <= int(time.time())


def test_funnel_narrows_and_every_cart_and_purchase_follows_a_view(demo: DemoData) -> None:
    counts = Counter(demo.interactions["EVENT_TYPE"].to_pylist())
    assert set(counts) == {"View", "AddToCart", "Purchase"}
    assert counts["View"] > 4 * counts["AddToCart"] > 4 * counts["Purchase"] > 0
    first_seen: dict[tuple[str, str, str], int] = {}
    for row in _rows(demo):
        first_seen.setdefault((row["USER_ID"], row["ITEM_ID"], row["EVENT_TYPE"]), row["TIMESTAMP"])
    for (user, item, event_type), at in first_seen.items():
        before = {"AddToCart": "View", "Purchase": "AddToCart"}.get(event_type)
        if before is not None:
            assert first_seen[(user, item, before)] <= at


def test_shoppers_mostly_view_and_buy_in_their_persona_categories(
    demo: DemoData, categories: dict[str, str]
) -> None:
    persona = dict(zip(demo.users["USER_ID"].to_pylist(), demo.users["PERSONA"].to_pylist(), strict=True))
    inside: dict[str, list[bool]] = defaultdict(list)
    view_share: dict[str, list[bool]] = defaultdict(list)
    for row in _rows(demo):
        hit = categories[row["ITEM_ID"]] in persona[row["USER_ID"]].split("|")
        inside[row["EVENT_TYPE"]].append(hit)
        if row["EVENT_TYPE"] == "View":
            view_share[row["USER_ID"]].append(hit)
    assert statistics.median(sum(hits) / len(hits) for hits in view_share.values()) > 0.6
    assert statistics.fmean(inside["View"]) > 0.6
    assert statistics.fmean(inside["Purchase"]) > statistics.fmean(inside["View"])


def test_discount_persona_shapes_what_gets_bought(demo: DemoData) -> None:
    discount_persona = dict(
        zip(
            bundled_catalog.shoppers()["USER_ID"].to_pylist(),
            bundled_catalog.shoppers()["DISCOUNT_PERSONA"].to_pylist(),
            strict=True,
        )
    )
    price = dict(zip(demo.items["ITEM_ID"].to_pylist(), demo.items["PRICE"].to_pylist(), strict=True))
    prices: dict[str, list[float]] = defaultdict(list)
    discounted: dict[str, list[bool]] = defaultdict(list)
    for row in _rows(demo):
        if row["EVENT_TYPE"] == "Purchase":
            kind = discount_persona[row["USER_ID"]]
            prices[kind].append(price[row["ITEM_ID"]])
            discounted[kind].append(row["DISCOUNT"] == "Yes")
    assert statistics.median(prices["lower_priced_products"]) < statistics.median(
        prices["discount_indifferent"]
    )
    assert statistics.fmean(discounted["all_discounts"]) > 2 * statistics.fmean(
        discounted["discount_indifferent"]
    )


def test_item_popularity_is_skewed_within_a_category(demo: DemoData, categories: dict[str, str]) -> None:
    biggest = Counter(categories.values()).most_common(1)[0][0]
    views = Counter(
        row["ITEM_ID"]
        for row in _rows(demo)
        if row["EVENT_TYPE"] == "View" and categories[row["ITEM_ID"]] == biggest
    )
    ranked = sorted(views.values(), reverse=True)
    top_tenth = ranked[: max(1, sum(1 for c in categories.values() if c == biggest) // 10)]
    assert sum(top_tenth) > 0.4 * sum(ranked)


def test_bundled_catalog_is_well_formed() -> None:
    products = bundled_catalog.products()
    ids = products["ITEM_ID"].to_pylist()
    assert len(ids) == len(set(ids)) > 2000
    assert all(0 < len(text) <= 300 for text in products["DESCRIPTION"].to_pylist())
    assert min(products["PRICE"].to_pylist()) > 0
    product_categories = set(products["CATEGORY"].to_pylist())
    for persona in set(bundled_catalog.shoppers()["PERSONA"].to_pylist()):
        assert len(bundled_catalog.persona_categories(persona)) == 3
        assert set(bundled_catalog.persona_categories(persona)) <= product_categories


def test_product_info_describes_known_items_only(demo: DemoData) -> None:
    item = demo.items.slice(0, 1).to_pylist()[0]
    info = product_info([item["ITEM_ID"], "no-such-item"])
    assert info == {
        item["ITEM_ID"]: {"name": item["NAME"], "category": item["CATEGORY"], "price": item["PRICE"]}
    }


@pytest.mark.realdata
def test_build_script_reproduces_the_bundled_files(tmp_path: Path) -> None:
    source = shared_data("retail-demo-store")
    spec = importlib.util.spec_from_file_location(
        "build_demo_catalog", REPO / "scripts" / "build_demo_catalog.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.build(source, tmp_path)
    bundled = REPO / "src" / "openpersonalize" / "demo" / "catalog"
    for name in ("products.csv.gz", "users.csv.gz", "NOTICE.md"):
        assert (tmp_path / name).read_bytes() == (bundled / name).read_bytes(), name
