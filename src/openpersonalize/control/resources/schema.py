"""Schema: an Avro record describing a dataset's columns (immutable once created)."""

from __future__ import annotations

from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import (
    all_of,
    describer,
    ensure_name_free,
    lister,
    new_resource,
    require,
)
from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import ResourceInUse
from openpersonalize.store.metadata import Resource

KIND = "schema"


def create(ctx: Context, call: Call) -> dict[str, Any]:
    p = call.params
    parse_schema(
        p["schema"], p.get("domain")
    )  # reject bad Avro and Personalize rule violations before storing anything
    arn = call.scope.arn(KIND, p["name"])
    ensure_name_free(ctx, arn, "Schema", p["name"])
    attrs = {"schema": p["schema"]}
    if p.get("domain"):
        attrs["domain"] = p["domain"]
    ctx.store.create(new_resource(ctx, KIND, arn, p["name"], attrs))
    return {"schemaArn": arn}


def delete(ctx: Context, call: Call) -> dict[str, Any]:
    arn = call.params["schemaArn"]
    require(ctx, arn, KIND)
    users = [d.arn for d in all_of(ctx, "dataset") if d.attrs.get("schemaArn") == arn]
    if users:
        raise ResourceInUse(f"Cannot delete schema {arn}: it is used by dataset {users[0]}. Delete it first.")
    ctx.store.delete(arn)
    return {}


def parsed(resource: Resource) -> ParsedSchema:
    return parse_schema(resource.attrs["schema"])


describe = describer(KIND)
list_ = lister(KIND)


OPERATIONS = {
    "CreateSchema": create,
    "DescribeSchema": describe,
    "ListSchemas": list_,
    "DeleteSchema": delete,
}
