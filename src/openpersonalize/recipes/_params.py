"""Typed reading of hyperparameters, which Personalize passes as strings.

Names a recipe does not know are ignored (the control plane validates names); a known name
with a value of the wrong type or out of range raises ``InvalidInput`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

from openpersonalize.errors import InvalidInput


def _raw(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return str(value).strip()


def _out_of_range(name: str, value: object, low: float | None, high: float | None) -> InvalidInput:
    bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    return InvalidInput(f"Hyperparameter {name}={value!r} is out of range {bounds}.")


def float_param(
    params: Mapping[str, str],
    name: str,
    default: float,
    *,
    low: float | None = None,
    high: float | None = None,
) -> float:
    raw = _raw(params, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"Hyperparameter {name}={raw!r} is not a number.") from None
    if value != value or (low is not None and value < low) or (high is not None and value > high):
        raise _out_of_range(name, raw, low, high)
    return value


def int_param(
    params: Mapping[str, str], name: str, default: int, *, low: int | None = None, high: int | None = None
) -> int:
    raw = _raw(params, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"Hyperparameter {name}={raw!r} is not an integer.") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise _out_of_range(name, raw, low, high)
    return value


def bool_param(params: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _raw(params, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidInput(f"Hyperparameter {name}={raw!r} is not a boolean (true or false).")


def percentile_range(
    params: Mapping[str, str], low_name: str, low_default: float, high_name: str, high_default: float
) -> tuple[float, float]:
    """A (min, max) pair of percentile hyperparameters in [0, 1] with min <= max."""
    low = float_param(params, low_name, low_default, low=0.0, high=1.0)
    high = float_param(params, high_name, high_default, low=0.0, high=1.0)
    if low > high:
        raise InvalidInput(f"Hyperparameter {low_name}={low} must not be greater than {high_name}={high}.")
    return low, high
