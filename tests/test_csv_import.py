"""Bulk CSV import: happy paths, one test per failure mode, and a round-trip property."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpersonalize.data.csv_import import TEXTUAL_MAX_CHARS, arrow_schema_for, read_csv, read_csv_files
from openpersonalize.data.fields import ParsedSchema, SchemaField
from openpersonalize.errors import DataError

INTERACTIONS = ParsedSchema(
    "Interactions",
    (
        SchemaField("USER_ID", "string"),
        SchemaField("ITEM_ID", "string"),
        SchemaField("EVENT_TYPE", "string"),
        SchemaField("EVENT_VALUE", "float", nullable=True),
        SchemaField("IMPRESSION", "string", nullable=True),
        SchemaField("TIMESTAMP", "long"),
    ),
)
ITEMS = ParsedSchema(
    "Items",
    (
        SchemaField("ITEM_ID", "string"),
        SchemaField("GENRES", "string", nullable=True, categorical=True),
        SchemaField("DESCRIPTION", "string", nullable=True, textual=True),
        SchemaField("PRICE", "double", nullable=True),
        SchemaField("CREATION_TIMESTAMP", "long"),
    ),
)
USERS = ParsedSchema(
    "Users",
    (
        SchemaField("USER_ID", "string"),
        SchemaField("AGE", "int", nullable=True),
        SchemaField("MEMBER", "boolean", nullable=True),
        SchemaField("TIER", "string", categorical=True),
    ),
)

HEADER = "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n"


def read(data: str | bytes, schema: ParsedSchema = INTERACTIONS, name: str = "interactions.csv") -> pa.Table:
    raw = data.encode() if isinstance(data, str) else data
    return read_csv(io.BytesIO(raw), schema, file_name=name)


def error_of(data: str | bytes, schema: ParsedSchema = INTERACTIONS, name: str = "interactions.csv") -> str:
    with pytest.raises(DataError) as info:
        read(data, schema, name)
    return str(info.value)


# --- happy paths -----------------------------------------------------------------------------


def test_interactions_from_path_have_schema_columns_types_and_order(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text(
        "TIMESTAMP,ITEM_ID,USER_ID,EVENT_TYPE,EVENT_VALUE\n1700000000,i1,u1,click,1.5\n5,i2,u2,buy,\n"
    )
    table = read_csv(path, INTERACTIONS, file_name="interactions.csv")
    assert table.schema == arrow_schema_for(INTERACTIONS)
    assert table.column_names == list(INTERACTIONS.names)
    assert table.schema.field("TIMESTAMP").type == pa.int64()
    assert table.schema.field("EVENT_VALUE").type == pa.float32()
    assert table.to_pylist() == [
        {
            "USER_ID": "u1",
            "ITEM_ID": "i1",
            "EVENT_TYPE": "click",
            "EVENT_VALUE": 1.5,
            "IMPRESSION": None,
            "TIMESTAMP": 1700000000,
        },
        {
            "USER_ID": "u2",
            "ITEM_ID": "i2",
            "EVENT_TYPE": "buy",
            "EVENT_VALUE": None,
            "IMPRESSION": None,
            "TIMESTAMP": 5,
        },
    ]


def test_items_quoting_escapes_newlines_and_textual_truncation() -> None:
    long_text = "é" * (TEXTUAL_MAX_CHARS + 5)
    data = (
        "ITEM_ID,GENRES,DESCRIPTION,PRICE,CREATION_TIMESTAMP\n"
        'i1,Horror|Action,"He said \\"hi\\", then a \\\\ and\na second line",9.99,1700000000\n'
        'i2,,"RFC ""double"" quotes",,1700000001\n'
        f'i3,Drama,"{long_text}",0.5,1700000002\n'
    )
    table = read(data, ITEMS, "items.csv")
    rows = table.to_pylist()
    assert rows[0]["DESCRIPTION"] == 'He said "hi", then a \\ and\na second line'
    assert rows[0]["GENRES"] == "Horror|Action"
    assert rows[1]["DESCRIPTION"] == 'RFC "double" quotes'
    assert rows[1]["GENRES"] is None and rows[1]["PRICE"] is None
    assert rows[2]["DESCRIPTION"] == "é" * TEXTUAL_MAX_CHARS
    assert table.schema.field("PRICE").type == pa.float64()


def test_users_int_boolean_and_padded_numbers() -> None:
    table = read(
        "USER_ID,AGE,MEMBER,TIER\nu1, 42 ,true,gold\nu2,,false,silver\nu3,7,,bronze\n", USERS, "users.csv"
    )
    assert table.schema.field("AGE").type == pa.int32()
    assert table.column("AGE").to_pylist() == [42, None, 7]
    assert table.column("MEMBER").to_pylist() == [True, False, None]


def test_bom_and_crlf_line_endings() -> None:
    table = read(
        b"\xef\xbb\xbf" + b"USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\r\nu1,i1,click,10\r\nu2,i2,view,11\r\n"
    )
    assert table.column("USER_ID").to_pylist() == ["u1", "u2"]
    assert table.column("TIMESTAMP").to_pylist() == [10, 11]


@pytest.mark.parametrize("data", [HEADER, HEADER.rstrip("\n"), HEADER + "\n\n"])
def test_header_only_gives_an_empty_table_with_the_schema(data: str) -> None:
    table = read(data)
    assert table.num_rows == 0
    assert table.schema == arrow_schema_for(INTERACTIONS)


def test_seekable_stream_is_read_from_its_position_and_left_open() -> None:
    stream = io.BytesIO(b"junk before the file|" + (HEADER + "u1,i1,click,10\n").encode())
    stream.seek(len(b"junk before the file|"))
    table = read_csv(stream, INTERACTIONS, file_name="interactions.csv")
    assert table.column("USER_ID").to_pylist() == ["u1"]
    assert not stream.closed


class _OneWayStream(io.RawIOBase):
    """A pipe-like stream (like an object-store body): readable, not seekable."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_non_seekable_stream_still_gets_a_precise_error() -> None:
    stream = _OneWayStream((HEADER + "u1,i1,click,10\nu2,i2,click,soon\n").encode())
    with pytest.raises(DataError, match=r"^pipe\.csv, row 2, column TIMESTAMP: 'soon' "):
        read_csv(stream, INTERACTIONS, file_name="pipe.csv")  # type: ignore[arg-type]


def test_read_csv_files_yields_one_table_per_file_and_names_the_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text(HEADER + "u1,i1,click,10\n")
    tables = read_csv_files(
        [("a.csv", good), ("b.csv", io.BytesIO((HEADER + "u2,i2,view,x\n").encode()))], INTERACTIONS
    )
    assert next(tables).num_rows == 1
    with pytest.raises(DataError, match=r"^b\.csv, row 1, column TIMESTAMP"):
        next(tables)


# --- failure modes: every message names the file, the row and the column ----------------------


def test_bad_long_names_file_row_column_and_rule() -> None:
    rows = "".join(f"u{i},i{i},click,{1700000000 + i}\n" for i in range(1041))
    message = error_of(HEADER + rows + "u,i,click,yesterday\n")
    assert message == (
        "interactions.csv, row 1042, column TIMESTAMP: 'yesterday' is not a valid long "
        "(Unix epoch seconds, a whole number)"
    )


def test_fractional_epoch_seconds_are_rejected() -> None:
    message = error_of(HEADER + "u1,i1,click,1700000000.5\n")
    assert message.startswith("interactions.csv, row 1, column TIMESTAMP: '1700000000.5' is not a valid long")


def test_int_out_of_range() -> None:
    message = error_of("USER_ID,AGE,TIER\nu1,1,a\nu2,2147483648,b\n", USERS, "users.csv")
    assert message.startswith("users.csv, row 2, column AGE: '2147483648' is not a valid int")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("abc", "'abc' is not a valid float"),
        ("nan", "is not a finite float"),
        ("-inf", "is not a finite float"),
    ],
)
def test_bad_or_non_finite_float(value: str, rule: str) -> None:
    message = error_of(
        f"USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP,EVENT_VALUE\nu,i,click,1,2\nu,i,click,1,{value}\n"
    )
    assert message.startswith("interactions.csv, row 2, column EVENT_VALUE: ")
    assert rule in message


def test_boolean_must_be_lowercase() -> None:
    message = error_of("USER_ID,MEMBER,TIER\nu1,true,a\nu2,True,b\n", USERS, "users.csv")
    assert message == (
        "users.csv, row 2, column MEMBER: 'True' is not a valid boolean (use lowercase true or false)"
    )


@pytest.mark.parametrize("line", ["u2,,click,10", 'u2,"",click,10'])
def test_empty_value_in_non_nullable_string(line: str) -> None:
    message = error_of(HEADER + "u1,i1,click,10\n" + line + "\n")
    assert message == "interactions.csv, row 2, column ITEM_ID: empty value, but the field is not nullable"


def test_empty_value_in_non_nullable_number() -> None:
    message = error_of(HEADER + "u1,i1,click,\n")
    assert message == "interactions.csv, row 1, column TIMESTAMP: empty value, but the field is not nullable"


@pytest.mark.parametrize(
    ("column", "line", "limit"),
    [
        ("USER_ID", "{v},i1,click,,,1", 256),
        ("EVENT_TYPE", "u1,i1,{v},,,1", 1000),
        ("IMPRESSION", "u1,i1,click,,{v},1", 1000),
    ],
)
def test_string_length_limits(column: str, line: str, limit: int) -> None:
    header = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,IMPRESSION,TIMESTAMP\n"
    assert read(header + line.format(v="ü" * limit) + "\n").num_rows == 1  # characters, not bytes
    message = error_of(header + "u0,i0,click,,,1\n" + line.format(v="x" * (limit + 1)) + "\n")
    assert message.startswith(
        f"interactions.csv, row 2, column {column}: value is {limit + 1} characters long"
    )


def test_invalid_utf8_value() -> None:
    message = error_of(HEADER.encode() + b"u1,i1,click,1\nu2,caf\xe9,click,2\n")
    assert (
        message
        == "interactions.csv, row 2, column ITEM_ID: value is not valid UTF-8 text (save the file as UTF-8)"
    )


def test_invalid_utf8_header() -> None:
    message = error_of("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n".encode("utf-16"))
    assert message.startswith("interactions.csv: the header row is not valid UTF-8 text")


def test_wrong_number_of_columns_names_the_row() -> None:
    message = error_of(HEADER + "u1,i1,click,1\nu2,i2,click,2,extra\n")
    assert message == "interactions.csv, row 2: expected 4 columns, got 5"


def test_missing_columns_use_the_aws_wording() -> None:
    message = error_of("ITEM_ID,EVENT_VALUE\ni1,1\n")
    assert (
        message
        == "interactions.csv: Input CSV is missing the following columns:[USER_ID, EVENT_TYPE, TIMESTAMP]"
    )


def test_extra_columns_are_named_by_position() -> None:
    message = error_of("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP,COLOR,SIZE\n")
    assert message.startswith("interactions.csv, header: columns 5, 6 are not fields of the schema")
    assert (
        "COLOR" not in message
        and "[USER_ID, ITEM_ID, EVENT_TYPE, EVENT_VALUE, IMPRESSION, TIMESTAMP]" in message
    )


def test_semicolon_separated_header_gets_a_hint() -> None:
    message = error_of("USER_ID;ITEM_ID;EVENT_TYPE;TIMESTAMP\nu1;i1;click;1\n")
    assert message.startswith("interactions.csv, header: column 1 is not a field of the schema")
    assert message.endswith("; separate columns with commas")


@pytest.mark.parametrize(
    "first_line",
    [
        "root:$y$j9T$secret-hash:19000:0:99999:7:::",
        "OPENPERSONALIZE_CREDENTIALS=AK:topsecret",
        "ghp_token123",
    ],
)
def test_a_file_that_is_not_the_expected_csv_is_never_quoted(first_line: str) -> None:
    """Regression: importing /etc/shadow or /proc/self/environ quoted their first line in failureReason."""
    message = error_of(f"{first_line}\nmore:secret:lines\n")
    assert "secret" not in message and first_line not in message and "token" not in message
    assert message.startswith("interactions.csv, header: column")


@pytest.mark.parametrize("name", ["user_id", " USER_ID"])
def test_column_name_with_wrong_case_or_padding(name: str) -> None:
    message = error_of(f"{name},ITEM_ID,EVENT_TYPE,TIMESTAMP\n")
    assert message == (
        "interactions.csv, header: column 1 must be named 'USER_ID' exactly (column names are case-sensitive)"
    )


def test_duplicate_column() -> None:
    message = error_of("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP,ITEM_ID\n")
    assert message == "interactions.csv, header: columns appear more than once: [ITEM_ID]"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file(data: bytes) -> None:
    assert error_of(data).startswith("interactions.csv: the file ")


def test_the_earliest_bad_row_wins_across_columns_and_rules() -> None:
    data = HEADER + "u1,i1,click,1\nu2,i2,click,later\n" + "x" * 300 + ",i3,click,3\n"
    assert error_of(data).startswith("interactions.csv, row 2, column TIMESTAMP")
    data = HEADER + "u1,i1,click,1\n" + "x" * 300 + ",i2,click,2\nu3,i3,click,later\n"
    assert error_of(data).startswith("interactions.csv, row 2, column USER_ID")


def test_value_error_before_a_malformed_row_is_reported_first() -> None:
    data = HEADER + "u1,i1,click,never\nu2,i2,click,2,extra\n"
    assert error_of(data).startswith("interactions.csv, row 1, column TIMESTAMP: 'never'")


def test_rows_count_records_across_multiline_values_and_parse_blocks() -> None:
    data = (
        "ITEM_ID,DESCRIPTION,CREATION_TIMESTAMP\n" + 'i0,"two\nlines",1\n' + "i,d,1\n" * 200_000 + "i,d,x\n"
    )
    assert error_of(data, ITEMS, "items.csv").startswith(
        "items.csv, row 200002, column CREATION_TIMESTAMP: 'x'"
    )


# --- property: any valid rows survive the round trip -------------------------------------------

ROUND_TRIP = ParsedSchema(
    "Items",
    (
        SchemaField("ITEM_ID", "string"),
        SchemaField("LABEL", "string", nullable=True, categorical=True),
        SchemaField("BLURB", "string", nullable=True, textual=True),
        SchemaField("COUNT", "int", nullable=True),
        SchemaField("CREATION_TIMESTAMP", "long"),
        SchemaField("WEIGHT", "float", nullable=True),
        SchemaField("SCORE", "double"),
        SchemaField("ACTIVE", "boolean", nullable=True),
    ),
)

_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
_row = st.fixed_dictionaries(
    {
        "ITEM_ID": _text,
        "LABEL": st.none() | _text,
        "BLURB": st.none() | _text,
        "COUNT": st.none() | st.integers(-(2**31), 2**31 - 1),
        "CREATION_TIMESTAMP": st.integers(-(2**63), 2**63 - 1),
        "WEIGHT": st.none() | st.floats(width=32, allow_nan=False, allow_infinity=False),
        "SCORE": st.floats(allow_nan=False, allow_infinity=False),
        "ACTIVE": st.none() | st.booleans(),
    }
)


def _csv_value(value: object) -> str:
    """The spec's quoting: strings in double quotes, `"` and `\\` escaped with a backslash."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, min_size=1, max_size=20), column_order=st.permutations(ROUND_TRIP.names))
def test_valid_rows_round_trip(rows: list[dict[str, object]], column_order: list[str]) -> None:
    lines = [",".join(column_order)] + [",".join(_csv_value(row[c]) for c in column_order) for row in rows]
    table = read("\r\n".join(lines) + "\r\n", ROUND_TRIP, "items.csv")
    assert table.column_names == list(ROUND_TRIP.names)
    assert table.to_pylist() == rows
