"""ARN formats (spec §5)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ARN = re.compile(
    r"^arn:(?P<partition>[a-z\d-]+):personalize:(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.+)$"
)

# Resource kind -> ARN resource-type segment.
SEGMENTS = {
    "dataset-group": "dataset-group",
    "schema": "schema",
    "dataset": "dataset",
    "dataset-import-job": "dataset-import-job",
    "dataset-export-job": "dataset-export-job",
    "data-deletion-job": "data-deletion-job",
    "event-tracker": "event-tracker",
    "filter": "filter",
    "solution": "solution",
    "campaign": "campaign",
    "recommender": "recommender",
    "batch-inference-job": "batch-inference-job",
    "batch-segment-job": "batch-segment-job",
    "metric-attribution": "metric-attribution",
}


@dataclass(frozen=True)
class Scope:
    """Where ARNs are minted: partition, region and account of the caller."""

    region: str
    account: str
    partition: str = "aws"

    def arn(self, kind: str, *path: str) -> str:
        return f"arn:{self.partition}:personalize:{self.region}:{self.account}:{SEGMENTS[kind]}/" + "/".join(
            path
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
