"""ARN formats (spec §5). Minting and scoping ARNs is openpersonalize.scope.Scope."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ARN = re.compile(
    r"^arn:(?P<partition>[a-z\d-]+):personalize:(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.+)$"
)


@dataclass(frozen=True)
class ParsedArn:
    partition: str
    region: str
    account: str
    resource_type: str
    path: tuple[str, ...]


def parse(arn: str) -> ParsedArn | None:
    match = _ARN.match(arn)
    if match is None:
        return None
    resource_type, _, rest = match["rest"].partition("/")
    return ParsedArn(
        match["partition"], match["region"], match["account"], resource_type, tuple(rest.split("/"))
    )


def kind_of(arn: str) -> str | None:
    """The resource kind an ARN names ('solution-version' for solution/<name>/<id>)."""
    parsed = parse(arn)
    if parsed is None:
        return None
    if parsed.resource_type == "solution" and len(parsed.path) == 2:
        return "solution-version"
    return parsed.resource_type


def global_arn(kind: str, name: str) -> str:
    """Recipes, algorithms and feature transformations have no region or account."""
    return f"arn:aws:personalize:::{kind}/{name}"
