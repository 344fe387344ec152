"""Batch segment building blocks: item-attribute queries, and users by event type."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from openpersonalize.data.typed_histories import TypedHistories
from openpersonalize.errors import InvalidInput
from openpersonalize.serving.segments import parse_item_attributes


def test_item_attribute_queries_parse_and_refuse_with_the_position():
    assert parse_item_attributes('ITEMS.genres = "Comedy" and ITEMS.YEAR = 1999') == [
        ("genres", "Comedy", True),
        ("YEAR", "1999", False),
    ]
    assert parse_item_attributes('ITEMS.title = "say \\"hi\\" AND go"') == [
        ("title", 'say "hi" AND go', True)
    ]
    with pytest.raises(InvalidInput, match="expected AND at character 25"):
        parse_item_attributes('ITEMS.genres = "Comedy" OR ITEMS.genres = "Drama"')
    with pytest.raises(InvalidInput, match="expected ITEMS.<column>"):
        parse_item_attributes('ITEMS.genres IN ("Comedy")')


def test_users_with_event_types():
    table = pa.table(
        {
            "USER_ID": ["a", "a", "b", "c"],
            "ITEM_ID": ["i1", "i2", "i1", "i2"],
            "EVENT_TYPE": ["click", "Purchase", "click", "watch"],
            "TIMESTAMP": [1, 2, 3, 4],
        }
    )
    histories = TypedHistories.from_table(table, np.array(["i1", "i2"], dtype=object))
    assert sorted(histories.users_with(frozenset({"purchase"}))) == ["a"]
    assert sorted(histories.users_with(frozenset({"click"}), other_than=True)) == ["a", "c"]
    assert sorted(histories.users_with(None)) == ["a", "b", "c"]
