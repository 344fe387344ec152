"""Metric attribution's metrics (spec §17): an event type, a name, and ``SUM(ITEMS.<column>)``,
``SUM(INTERACTIONS.<column>)`` or ``SAMPLECOUNT()``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openpersonalize.data.fields import ParsedSchema
from openpersonalize.errors import InvalidInput

NUMERIC = ("int", "long", "float", "double")
_SUM = re.compile(
    r"\s*SUM\s*\(\s*(ITEMS|INTERACTIONS)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", re.IGNORECASE
)
_COUNT = re.compile(r"\s*SAMPLECOUNT\s*\(\s*\)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Metric:
    event_type: str
    name: str
    expression: str
    function: str  # "sum" | "samplecount", as the S3 report's MATH_FUNCTION column says
    dataset: str | None = None  # "ITEMS" | "INTERACTIONS" for sum
    column: str | None = None

    def value_of(self, record: Mapping[str, Any], item_row: Mapping[str, Any] | None) -> float | None:
        """The event's contribution (None: it has no value for this metric)."""
        if self.function == "samplecount":
            return 1.0
        source = item_row if self.dataset == "ITEMS" else record
        value = source.get(self.column or "") if source is not None else None
        try:
            return None if value is None or value == "" else float(value)
        except (TypeError, ValueError):
            return None


def function_of(expression: str) -> str:
    """ "samplecount" or "sum" (the report's MATH_FUNCTION) of an expression checked before."""
    return "samplecount" if _COUNT.fullmatch(expression) else "sum"


def parse_metric(metric: Mapping[str, Any], where: str, schemas: Mapping[str, ParsedSchema]) -> Metric:
    """A metric of a request, checked against the dataset group's schemas (dataset type -> schema)."""
    expression = str(metric["expression"])
    interactions = schemas.get("INTERACTIONS")
    if interactions is None or interactions.field("EVENT_TYPE") is None:
        raise InvalidInput(
            f"{where}: metric attribution needs an Interactions dataset with an EVENT_TYPE column in the dataset group."
        )
    if function_of(expression) == "samplecount":
        return Metric(metric["eventType"], metric["metricName"], expression, "samplecount")
    found = _SUM.fullmatch(expression)
    if found is None:
        raise InvalidInput(
            f"{where}.expression {expression!r} is not SUM(ITEMS.<column>), SUM(INTERACTIONS.<column>) or SAMPLECOUNT()."
        )
    dataset, column = found.group(1).upper(), found.group(2)
    schema = schemas.get(dataset)
    if schema is None:
        raise InvalidInput(
            f"{where}.expression {expression!r} reads {dataset}, which the dataset group does not have."
        )
    by_upper = {name.upper(): name for name in schema.names}
    field = schema.field(by_upper.get(column.upper(), column))
    if field is None:
        raise InvalidInput(f"{where}.expression {expression!r}: {dataset} has no column {column}.")
    if field.type not in NUMERIC:
        raise InvalidInput(
            f"{where}.expression {expression!r}: {dataset}.{field.name} is not numeric ({field.type})."
        )
    return Metric(metric["eventType"], metric["metricName"], expression, "sum", dataset, field.name)
