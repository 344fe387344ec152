"""The bundled AWS Retail Demo Store catalog (MIT-0): products and synthetic shoppers.

The files in ``catalog/`` are produced by ``scripts/build_demo_catalog.py`` (see
``catalog/NOTICE.md``). They are gzipped CSVs read once per process and cached.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

PRODUCTS_FILE = "products.csv.gz"
SHOPPERS_FILE = "users.csv.gz"

_PRODUCT_TYPES = {
    "ITEM_ID": pa.string(),
    "NAME": pa.string(),
    "CATEGORY": pa.string(),
    "STYLE": pa.string(),
    "PRICE": pa.float64(),
    "GENDER_AFFINITY": pa.string(),  # "F", "M" or null (no affinity)
    "DESCRIPTION": pa.string(),
    "IMAGE": pa.string(),
}
_SHOPPER_TYPES = {
    "USER_ID": pa.string(),
    "AGE": pa.int32(),
    "GENDER": pa.string(),
    "PERSONA": pa.string(),  # three preferred categories joined by "_", e.g. "housewares_tools_beauty"
    "DISCOUNT_PERSONA": pa.string(),  # lower_priced_products | all_discounts | discount_indifferent
}


def _read(file_name: str, column_types: dict[str, pa.DataType]) -> pa.Table:
    resource = files("openpersonalize.demo").joinpath("catalog", file_name)
    with resource.open("rb") as raw, gzip.GzipFile(fileobj=raw) as stream:
        table = pa_csv.read_csv(
            stream,
            convert_options=pa_csv.ConvertOptions(
                column_types=column_types,
                include_columns=list(column_types),
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    return table.combine_chunks()


@lru_cache(maxsize=1)
def products() -> pa.Table:
    """Every bundled product: ITEM_ID, NAME, CATEGORY, STYLE, PRICE, GENDER_AFFINITY, DESCRIPTION, IMAGE."""
    return _read(PRODUCTS_FILE, _PRODUCT_TYPES)


@lru_cache(maxsize=1)
def shoppers() -> pa.Table:
    """Every bundled synthetic user: USER_ID, AGE, GENDER, PERSONA, DISCOUNT_PERSONA."""
    return _read(SHOPPERS_FILE, _SHOPPER_TYPES)


def persona_categories(persona: str) -> tuple[str, ...]:
    """The preferred categories of a persona: 'housewares_tools_beauty' -> ('housewares', 'tools', 'beauty').

    Also accepts the '|'-separated form the demo Users dataset stores.
    """
    return tuple(persona.replace("|", "_").split("_"))


@lru_cache(maxsize=1)
def _product_index() -> dict[str, dict[str, Any]]:
    table = products().select(["ITEM_ID", "NAME", "CATEGORY", "PRICE"]).to_pydict()
    return {
        item_id: {"name": name, "category": category, "price": price}
        for item_id, name, category, price in zip(
            table["ITEM_ID"], table["NAME"], table["CATEGORY"], table["PRICE"], strict=True
        )
    }


def product_info(item_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Name, category and price of each known item id (unknown ids are left out), for display."""
    index = _product_index()
    return {item_id: dict(index[item_id]) for item_id in item_ids if item_id in index}
