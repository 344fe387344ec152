"""JSON values to Python with Coral's type checks: wrong types raise ``TypeMismatch``."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from openpersonalize.api.coral_messages import TypeMismatch, mismatch_text

INT_RANGES = {"integer": (-(2**31), 2**31 - 1, "int"), "long": (-(2**63), 2**63 - 1, "long")}
# JSON values of exactly these types need no conversion (floats if finite). Ints always convert:
# that is where the Java range check happens.
EXACT_TYPES: dict[str, type] = {"float": float, "double": float, "timestamp": float, "boolean": bool}


def utf16_length(text: str) -> int:
    # Java measures strings in UTF-16 code units: characters outside the BMP count twice.
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeMismatch(mismatch_text(value, "string"))


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeMismatch(mismatch_text(value, "boolean"))


def int_converter(type_name: str) -> Callable[[Any], int]:
    low, high, java_name = INT_RANGES[type_name]

    def convert(value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value):
            value = math.floor(value)  # Coral truncates JSON numbers with a fraction
        elif not isinstance(value, int) or isinstance(value, bool):
            raise TypeMismatch(mismatch_text(value, type_name))
        if not low <= value <= high:
            raise TypeMismatch(f"Numeric value ({value}) out of range of {java_name}")
        return value

    return convert


def float_converter(type_name: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
        raise TypeMismatch(mismatch_text(value, type_name))

    return convert


def to_timestamp(value: Any) -> float:
    """Epoch seconds from a JSON number (what every AWS SDK sends) or an ISO-8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        seconds = _parse_timestamp_text(value)
    else:
        raise TypeMismatch(mismatch_text(value, "timestamp"))
    if not math.isfinite(seconds):
        raise TypeMismatch(mismatch_text(value, "timestamp"))
    return seconds


def _parse_timestamp_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise TypeMismatch(mismatch_text(text, "timestamp")) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):
        raise TypeMismatch(mismatch_text(text, "timestamp")) from None


def to_blob(value: Any) -> str:
    """Blobs travel base64-encoded; keep the text, reject what does not decode."""
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
            return value
        except (binascii.Error, ValueError):
            pass
    raise TypeMismatch(mismatch_text(value, "blob"))
