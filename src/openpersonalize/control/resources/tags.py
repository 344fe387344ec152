"""Tags on every taggable resource (spec §20)."""

from __future__ import annotations

from typing import Any

from openpersonalize.control import arns, registry
from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources.common import MAX_TAGS
from openpersonalize.errors import InvalidInput, ResourceNotFound, TooManyTagKeys, TooManyTags
from openpersonalize.store.metadata import Resource


def _taggable(ctx: Context, arn: str) -> Resource:
    resource = ctx.store.get(arn)
    if resource is None:
        raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
    declared = registry.KINDS.get(resource.kind)
    if declared is None or not declared.taggable or arns.kind_of(arn) is None:
        raise InvalidInput(f"Resource {arn} does not support tags.")
    return resource


def tag(ctx: Context, call: Call) -> dict[str, Any]:
    resource = _taggable(ctx, call.params["resourceArn"])
    new = {t["tagKey"]: t["tagValue"] for t in call.params["tags"]}
    total = ctx.store.put_tags(resource.arn, new, max_total=MAX_TAGS)
    if total > MAX_TAGS:
        raise TooManyTags(f"Resource {resource.arn} would have {total} tags; the limit is {MAX_TAGS}.")
    return {}


def untag(ctx: Context, call: Call) -> dict[str, Any]:
    resource = _taggable(ctx, call.params["resourceArn"])
    keys = call.params["tagKeys"]
    if len(keys) > MAX_TAGS:
        raise TooManyTagKeys(f"At most {MAX_TAGS} tag keys can be removed in one call.")
    ctx.store.remove_tags(resource.arn, keys)
    return {}


def list_tags(ctx: Context, call: Call) -> dict[str, Any]:
    resource = _taggable(ctx, call.params["resourceArn"])
    return {"tags": [{"tagKey": k, "tagValue": v} for k, v in ctx.store.get_tags(resource.arn).items()]}


OPERATIONS = {
    "TagResource": tag,
    "UntagResource": untag,
    "ListTagsForResource": list_tags,
}
