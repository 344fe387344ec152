"""The demo's Personalize datasets: seeded interactions from the bundled personas, items, users.

``load_demo_data`` draws ``n_users`` shoppers from the bundled Retail Demo Store users and
simulates ~60 days of View / AddToCart / Purchase events ending at ``end_time`` (how shoppers
behave is documented in ``openpersonalize.demo.simulation``). Same arguments, same data.

- Interactions: USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP, DISCOUNT ("Yes"/"No").
- Items: the bundled products (ITEM_ID, NAME, CATEGORY, STYLE, PRICE, DESCRIPTION) with a
  CREATION_TIMESTAMP in the three years before the window.
- Users: the chosen shoppers (USER_ID, AGE, GENDER, PERSONA = their three categories "a|b|c").
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openpersonalize.data.csv_import import arrow_schema_for
from openpersonalize.data.schema import parse_schema
from openpersonalize.demo import bundled_catalog
from openpersonalize.demo.schemas import SCHEMAS
from openpersonalize.demo.simulation import DAY_SECONDS, EVENT_TYPES, WINDOW_DAYS, Catalog, simulate

CSV_FILE_NAMES = {"INTERACTIONS": "interactions.csv", "ITEMS": "items.csv", "USERS": "users.csv"}
ITEM_AGE_SECONDS = 3 * 365 * DAY_SECONDS  # items were created up to this long before the window


@dataclass
class DemoData:
    """The three datasets, typed as a CSV import with ``schemas`` would type them."""

    interactions: pa.Table  # USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP, DISCOUNT
    items: pa.Table  # ITEM_ID, NAME, CATEGORY, STYLE, PRICE, DESCRIPTION, CREATION_TIMESTAMP
    users: pa.Table  # USER_ID, AGE, GENDER, PERSONA
    schemas: dict[str, str]  # "INTERACTIONS" / "ITEMS" / "USERS" -> Avro schema JSON for CreateSchema

    def write_csvs(self, directory: Path) -> dict[str, Path]:
        """Write Personalize bulk-import CSVs into ``directory``; returns the path per dataset type.

        Header = the schema's field names; strings (ids, text) are quoted, numbers are not.
        """
        directory.mkdir(parents=True, exist_ok=True)
        tables = {"INTERACTIONS": self.interactions, "ITEMS": self.items, "USERS": self.users}
        paths = {}
        for dataset_type, table in tables.items():
            path = directory / CSV_FILE_NAMES[dataset_type]
            _write_csv(path, table)
            paths[dataset_type] = path
        return paths


def load_demo_data(*, n_users: int = 1500, seed: int = 7, end_time: int | None = None) -> DemoData:
    """Generate the demo datasets: ``n_users`` shoppers, 60 days of events before ``end_time``.

    ``end_time`` is Unix epoch seconds (default: now). Raises ValueError unless ``n_users`` is
    between 1 and the number of bundled users (5,250).
    """
    shoppers = bundled_catalog.shoppers()
    if not 1 <= n_users <= shoppers.num_rows:
        raise ValueError(f"n_users must be between 1 and {shoppers.num_rows}, got {n_users}")
    end = int(time.time()) if end_time is None else int(end_time)
    # Independent streams: changing how events are drawn does not reshuffle who the shoppers are.
    catalog_rng, shopper_rng, event_rng = np.random.default_rng(seed).spawn(3)

    products = bundled_catalog.products()
    chosen = np.sort(shopper_rng.choice(shoppers.num_rows, size=n_users, replace=False))
    users = shoppers.take(pa.array(chosen))
    events = simulate(Catalog.build(products, catalog_rng), users, event_rng, end)

    interactions = pa.table(
        {
            "USER_ID": users["USER_ID"].take(pa.array(events.user)),
            "ITEM_ID": products["ITEM_ID"].take(pa.array(events.item)),
            "EVENT_TYPE": pa.array(EVENT_TYPES).take(pa.array(events.event_type)),
            "TIMESTAMP": pa.array(events.timestamp, pa.int64()),
            "DISCOUNT": pa.array(np.where(events.discount, "Yes", "No")),
        }
    )
    window_start = end - WINDOW_DAYS * DAY_SECONDS
    created = catalog_rng.integers(window_start - ITEM_AGE_SECONDS, window_start, size=products.num_rows)
    items = pa.table(
        {
            **{
                name: products[name]
                for name in ("ITEM_ID", "NAME", "CATEGORY", "STYLE", "PRICE", "DESCRIPTION")
            },
            "CREATION_TIMESTAMP": pa.array(created, pa.int64()),
        }
    )
    users_out = pa.table(
        {
            "USER_ID": users["USER_ID"],
            "AGE": users["AGE"],
            "GENDER": users["GENDER"],
            # Multi-valued categorical: Personalize splits categorical values on "|".
            "PERSONA": pc.replace_substring(users["PERSONA"], "_", "|"),
        }
    )
    return DemoData(
        interactions=_conform(interactions, "INTERACTIONS"),
        items=_conform(items, "ITEMS"),
        users=_conform(users_out, "USERS"),
        schemas=dict(SCHEMAS),
    )


def product_info(item_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """{"name", "category", "price"} per known item id (unknown ids left out), for printing results."""
    return bundled_catalog.product_info(item_ids)


def _conform(table: pa.Table, dataset_type: str) -> pa.Table:
    return table.cast(arrow_schema_for(parse_schema(SCHEMAS[dataset_type])))


def _write_csv(path: Path, table: pa.Table) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(table.column_names) + "\n")  # Avro field names never need quoting
        # Personalize's CSV reader takes backslash escapes: write \" and \\, not RFC 4180's "".
        writer = csv.writer(
            f, quoting=csv.QUOTE_NONNUMERIC, doublequote=False, escapechar="\\", lineterminator="\n"
        )
        writer.writerows(zip(*(column.to_pylist() for column in table.columns), strict=True))
