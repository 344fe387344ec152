"""Bulk CSV import (CreateDatasetImportJob): parse one dataset file into an Arrow table.

Rules (spec §11.3), and where we chose something the guide leaves open:
- The first row is the header: schema field names, exactly (case-sensitive). Columns may come in
  any order (AWS wants schema order; we are lenient). Nullable fields may be left out (filled
  with nulls); a missing non-nullable field, an unknown, duplicated or wrongly-cased column fails.
- UTF-8 only; a leading byte-order mark and CRLF line endings are fine.
- Values may be quoted; inside values `\\` escapes `"` and `\\` (RFC 4180 `""` also works);
  quoted values may contain newlines.
- An empty value (quoted or not) is null, allowed only for nullable fields.
- `int`/`long`: whole numbers (surrounding spaces are ignored). Epoch fields such as TIMESTAMP are
  `long` Unix epoch *seconds*; fractional values like `1700000000.5` are rejected, as AWS does,
  rather than silently truncated.
- `float`/`double`: finite numbers only (no NaN or infinity). `boolean`: lowercase true/false.
- String lengths in characters: ids (USER_ID, ITEM_ID, ACTION_ID) <= 256, other strings including
  IMPRESSION <= 1000; textual fields are truncated to 20,000 rather than rejected.
- A header-only file gives an empty table; minimum record counts are the job's business.

Error messages name the file, the 1-based data row (the header is not counted, so without
multi-line values the editor line is row + 1), the column and the rule.

The happy path parses once, multithreaded, straight into typed columns. Only when pyarrow rejects
the file do we parse it again as raw bytes, single-threaded, to find the first offending value.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from openpersonalize.data.fields import ParsedSchema, SchemaField, arrow_schema, arrow_type
from openpersonalize.errors import DataError

ID_FIELDS = frozenset({"USER_ID", "ITEM_ID", "ACTION_ID"})
EPOCH_FIELDS = frozenset({"TIMESTAMP", "CREATION_TIMESTAMP", "EXPIRATION_TIMESTAMP"})
ID_MAX_CHARS = 256
STRING_MAX_CHARS = 1000
TEXTUAL_MAX_CHARS = 20_000

_BOM = b"\xef\xbb\xbf"
_HEADER_MAX_BYTES = 1 << 20
_NUMBER_PADDING = " \t"  # what pyarrow's CSV number parser skips around a value
_SHOWN_VALUE_CHARS = 60

# (0-based data row, column name or None for a whole-row problem, what is wrong)
_Problem = tuple[int, str | None, str]


def read_csv(source: str | Path | BinaryIO, schema: ParsedSchema, *, file_name: str) -> pa.Table:
    """Parse one CSV file into a table with exactly the schema's columns, in schema order.

    ``source`` is a path or a binary file object (read from its current position, not closed).
    Raises ``DataError`` with a message fit for a job's failureReason on any bad header or value.
    """
    stream = _open(source)
    try:
        fields = _check_header(_read_header(stream, file_name), schema, file_name)
        if _at_end(stream):
            columns = {f.name: pa.chunked_array([], arrow_type(f)) for f in fields}
        else:
            data_start = stream.tell()
            try:
                table = _parse(stream, fields, arrow_type, use_threads=True)
            except pa.ArrowInvalid as exc:
                stream.seek(data_start)
                raise _diagnose(stream, fields, file_name, exc) from None
            columns = dict(zip(table.column_names, table.columns, strict=True))
        return _finish(columns, fields, schema, file_name)
    finally:
        if isinstance(source, str | Path):
            stream.close()


def read_csv_files(files: Iterable[tuple[str, BinaryIO | Path]], schema: ParsedSchema) -> Iterator[pa.Table]:
    """``read_csv`` over (file name, source) pairs, one table per file, stopping at the first bad file."""
    for file_name, source in files:
        yield read_csv(source, schema, file_name=file_name)


def arrow_schema_for(schema: ParsedSchema) -> pa.Schema:
    """The Arrow schema of the tables ``read_csv`` returns for ``schema``."""
    return arrow_schema(schema)


def _open(source: str | Path | BinaryIO) -> pa.NativeFile:
    """A seekable pyarrow stream over ``source``: seekable so the diagnostic pass can re-read it."""
    if isinstance(source, str | Path):
        return pa.OSFile(str(source), mode="r")
    seekable = getattr(source, "seekable", None)
    if seekable is not None and seekable():
        return pa.PythonFile(source, mode="r")
    # Object-store bodies and pipes cannot rewind: hold the bytes once instead of parsing twice.
    return pa.BufferReader(source.read())


def _read_header(stream: pa.NativeFile, file_name: str) -> list[str]:
    """Read the header line, leaving ``stream`` at the first data byte."""
    start = stream.tell()
    head = b""
    while b"\n" not in head and len(head) < _HEADER_MAX_BYTES:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        head += chunk
    line, newline, _ = head.partition(b"\n")
    if not newline and len(head) >= _HEADER_MAX_BYTES:
        raise DataError(f"{file_name}: the header row is longer than {_HEADER_MAX_BYTES} bytes")
    stream.seek(start + len(line) + len(newline))
    line = line.removeprefix(_BOM).rstrip(b"\r")
    if not line.strip():
        what = "is empty" if not head.removeprefix(_BOM).strip() else "starts with an empty line"
        raise DataError(f"{file_name}: the file {what}; the first row must name the columns")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(
            f"{file_name}: the header row is not valid UTF-8 text (save the file as UTF-8)"
        ) from None
    return next(csv.reader([text], escapechar="\\"))


def _check_header(names: list[str], schema: ParsedSchema, file_name: str) -> list[SchemaField]:
    """The schema fields in file column order; raises on a header that does not fit the schema.

    A header that does not fit may be any file's first line (a wrong location, or a probe of a
    private file), so messages name columns by position and quote only the schema's own names.
    """
    prefix = f"{file_name}, header"
    by_loose_name = {f.name.upper(): f.name for f in schema.fields}
    unknown = [i for i, n in enumerate(names, 1) if schema.field(n) is None]
    for position in unknown:
        near = by_loose_name.get(names[position - 1].strip().upper())
        if near is not None:
            raise DataError(
                f"{prefix}: column {position} must be named {near!r} exactly (column names are case-sensitive)"
            )
    if unknown:
        separators = any(c in names[i - 1] for i in unknown for c in ";\t|")
        raise DataError(
            f"{prefix}: {_columns(unknown)} of the schema; the header must name fields of "
            f"[{', '.join(schema.names)}]" + ("; separate columns with commas" if separators else "")
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"{prefix}: columns appear more than once: [{', '.join(duplicates)}]")
    missing = [f.name for f in schema.fields if not f.nullable and f.name not in names]
    if missing:
        raise DataError(f"{file_name}: Input CSV is missing the following columns:[{', '.join(missing)}]")
    return [f for n in names if (f := schema.field(n)) is not None]


def _columns(positions: list[int]) -> str:
    if len(positions) == 1:
        return f"column {positions[0]} is not a field"
    shown = ", ".join(str(p) for p in positions[:10]) + (", ..." if len(positions) > 10 else "")
    return f"columns {shown} are not fields"


def _at_end(stream: pa.NativeFile) -> bool:
    position = stream.tell()
    at_end = not stream.read(1)
    stream.seek(position)
    return at_end


def _parse(
    stream: pa.NativeFile,
    fields: list[SchemaField],
    column_type: Callable[[SchemaField], pa.DataType],
    *,
    use_threads: bool,
    on_bad_row: Callable[[pa_csv.InvalidRow], str] | None = None,
) -> pa.Table:
    return pa_csv.read_csv(
        stream,
        read_options=pa_csv.ReadOptions(column_names=[f.name for f in fields], use_threads=use_threads),
        parse_options=pa_csv.ParseOptions(
            escape_char="\\", newlines_in_values=True, invalid_row_handler=on_bad_row
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={f.name: column_type(f) for f in fields},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            true_values=["true"],
            false_values=["false"],
        ),
    )


def _finish(
    columns: dict[str, pa.ChunkedArray], fields: list[SchemaField], schema: ParsedSchema, file_name: str
) -> pa.Table:
    """Check what the typed parse cannot, truncate long text, fill absent nullable columns, reorder."""
    problems = [p for f in fields if (p := _first_typed_problem(columns[f.name], f)) is not None]
    if problems:
        raise _data_error(file_name, min(problems, key=lambda p: (p[0], _position(fields, p[1]))))
    target = arrow_schema_for(schema)
    length = len(next(iter(columns.values()))) if columns else 0
    arrays = []
    for field in schema.fields:
        column = columns.get(field.name)
        if column is None:
            column = pa.chunked_array([pa.nulls(length, arrow_type(field))])
        elif field.textual:
            column = _truncate(column, TEXTUAL_MAX_CHARS)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=target)


def _position(fields: list[SchemaField], name: str | None) -> int:
    return next((i for i, f in enumerate(fields) if f.name == name), -1)


def _first_typed_problem(column: pa.ChunkedArray | pa.Array, field: SchemaField) -> _Problem | None:
    """The first value of an already typed column that breaks a rule the types do not express."""
    problems: list[_Problem] = []
    if not field.nullable and column.null_count:
        problems.append(
            (_first_true(column.is_null()), field.name, "empty value, but the field is not nullable")
        )
    if field.type in ("float", "double"):
        row = _first_true(pc.invert(pc.is_finite(column)))
        if row >= 0:
            problems.append(
                (
                    row,
                    field.name,
                    f"value {column[row].as_py()} is not a finite {field.type} (NaN and infinity are not allowed)",
                )
            )
    limit = _max_chars(field)
    if limit is not None and _max_bytes(column) > limit:
        # Byte length bounds character length from above, so only long-byte columns are counted.
        lengths = pc.utf8_length(column)
        row = _first_true(pc.greater(lengths, limit))
        if row >= 0:
            kind = "an id" if field.name in ID_FIELDS else "a string"
            message = f"value is {lengths[row].as_py()} characters long; {kind} may have at most {limit}"
            problems.append((row, field.name, message))
    return min(problems, default=None)


def _max_chars(field: SchemaField) -> int | None:
    if field.type != "string" or field.textual:
        return None
    return ID_MAX_CHARS if field.name in ID_FIELDS else STRING_MAX_CHARS


def _truncate(column: pa.ChunkedArray, limit: int) -> pa.ChunkedArray:
    if _max_bytes(column) <= limit:
        return column
    return pc.utf8_slice_codeunits(column, 0, limit)


def _max_bytes(column: pa.ChunkedArray | pa.Array) -> int:
    longest = pc.max(pc.binary_length(column)).as_py()
    return 0 if longest is None else int(longest)


def _first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    """0-based index of the first true value of a boolean column (nulls count as false), or -1."""
    return int(pc.index(pc.fill_null(mask, False), True).as_py())


def _diagnose(
    stream: pa.NativeFile, fields: list[SchemaField], file_name: str, cause: Exception
) -> DataError:
    """Re-read the data as raw bytes to name the first bad row and column of a rejected file."""
    bad_rows: list[pa_csv.InvalidRow] = []

    def skip_and_remember(row: pa_csv.InvalidRow) -> str:
        if not bad_rows:  # a wrong delimiter makes every row bad: keep one, not millions
            bad_rows.append(row)
        return "skip"

    try:
        raw = _parse(stream, fields, lambda _: pa.binary(), use_threads=False, on_bad_row=skip_and_remember)
    except pa.ArrowInvalid as exc:
        return DataError(f"{file_name}: the file is not valid CSV ({_parser_problem(exc)})")
    # Rows after the first malformed one shift by one, so only the rows before it are comparable.
    checked_rows = raw.num_rows
    if bad_rows and bad_rows[0].number is not None:
        checked_rows = min(checked_rows, bad_rows[0].number - 1)
    problems = [
        p for f in fields if (p := _first_raw_problem(raw[f.name].slice(0, checked_rows), f)) is not None
    ]
    if problems:
        return _data_error(file_name, min(problems, key=lambda p: (p[0], _position(fields, p[1]))))
    if bad_rows:
        row = bad_rows[0]
        number = row.number if row.number is not None else checked_rows + 1
        message = f"expected {row.expected_columns} columns, got {row.actual_columns}"
        return _data_error(file_name, (number - 1, None, message))
    return DataError(f"{file_name}: the file could not be parsed as CSV ({_parser_problem(cause)})")


def _first_raw_problem(raw: pa.ChunkedArray, field: SchemaField) -> _Problem | None:
    offset = 0
    for chunk in raw.chunks:
        problem = _first_problem_in_chunk(chunk, field)
        if problem is not None:
            return (offset + problem[0], problem[1], problem[2])
        offset += len(chunk)
    return None


def _first_problem_in_chunk(raw: pa.Array, field: SchemaField) -> _Problem | None:
    """Each stage checks only the rows before the previous stage's first failure, so the first hit wins."""
    bad_utf8 = _first_failure(raw, lambda a: a.cast(pa.string()))
    text = raw.slice(0, bad_utf8).cast(pa.string())
    bad_value: int | None = None
    if field.type == "string":
        typed = text
    elif field.type == "boolean":
        valid = pc.or_kleene(pc.is_null(text), pc.is_in(text, value_set=pa.array(["true", "false"])))
        first_invalid = _first_true(pc.invert(valid))
        bad_value = first_invalid if first_invalid >= 0 else None
        typed = pc.equal(text.slice(0, bad_value), "true")
    else:
        numbers = pc.utf8_trim(text, characters=_NUMBER_PADDING)
        target = arrow_type(field)
        bad_value = _first_failure(numbers, lambda a: a.cast(target))
        typed = numbers.slice(0, bad_value).cast(target)
    problem = _first_typed_problem(typed, field)
    if problem is not None:
        return problem
    if bad_value is not None:
        return (bad_value, field.name, f"{_show(text[bad_value].as_py())} is not {_type_rule(field)}")
    if bad_utf8 is not None:
        return (bad_utf8, field.name, "value is not valid UTF-8 text (save the file as UTF-8)")
    return None


def _first_failure(array: pa.Array, convert: Callable[[pa.Array], object]) -> int | None:
    """Index of the first element ``convert`` rejects (ArrowInvalid), by bisection: O(n) work overall."""
    try:
        convert(array)
        return None
    except pa.ArrowInvalid:
        pass
    low, high = 0, len(array)  # the first failure lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            convert(array.slice(low, middle - low))
            low = middle
        except pa.ArrowInvalid:
            high = middle
    return low


def _type_rule(field: SchemaField) -> str:
    if field.type in ("int", "long") and field.name in EPOCH_FIELDS:
        return f"a valid {field.type} (Unix epoch seconds, a whole number)"
    return {
        "int": "a valid int (a whole number from -2147483648 to 2147483647)",
        "long": "a valid long (a whole number)",
        "float": "a valid float",
        "double": "a valid double",
        "boolean": "a valid boolean (use lowercase true or false)",
    }[field.type]


def _parser_problem(exc: Exception) -> str:
    """pyarrow's complaint without the raw text it may quote after a colon."""
    return str(exc).split(":", 1)[0].strip() or type(exc).__name__


def _show(value: object) -> str:
    """A quoted, shortened rendering of a bad value for an error message."""
    if isinstance(value, bytes):
        text = repr(value[:_SHOWN_VALUE_CHARS])
        return text + ("..." if len(value) > _SHOWN_VALUE_CHARS else "")
    text = str(value)
    return repr(text[:_SHOWN_VALUE_CHARS]) + ("..." if len(text) > _SHOWN_VALUE_CHARS else "")


def _data_error(file_name: str, problem: _Problem) -> DataError:
    row, column, message = problem
    where = f"{file_name}, row {row + 1}" + (f", column {column}" if column else "")
    return DataError(f"{where}: {message}")


__all__ = ["arrow_schema_for", "read_csv", "read_csv_files"]
