"""Helpers every resource family shares: lookups, views, pagination, tags, names."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from openpersonalize.control import registry
from openpersonalize.control.context import Call, Context
from openpersonalize.control.lifecycle import ACTIVE, CREATE_PENDING, IN_FLIGHT
from openpersonalize.errors import (
    InvalidInput,
    InvalidNextToken,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceInUse,
    ResourceNotFound,
    TooManyTags,
)
from openpersonalize.store.metadata import Job, Quota, Resource, all_resources

MAX_TAGS = 200


def require(ctx: Context, arn: str, kind: str) -> Resource:
    resource = ctx.store.get(arn)
    if resource is None or resource.kind != kind:
        raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
    return resource


def view(resource: Resource) -> dict[str, Any]:
    """The Describe shape of a resource; the wire encoder trims it to Summary shapes for List ops.

    attrs keys starting with '_' are internal bookkeeping and never leave the service.
    """
    declared = registry.kind(resource.kind)
    out: dict[str, Any] = {
        "jobName" if declared.job else "name": resource.name,
        declared.arn_member: resource.arn,
        "status": declared.status_names.get(resource.status, resource.status),
        "creationDateTime": resource.created,
        "lastUpdatedDateTime": resource.updated,
    }
    out.update({k: v for k, v in resource.attrs.items() if not k.startswith("_")})
    return out


def encode_token(position: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode()


def decode_token(token: str) -> tuple[float, str]:
    try:
        created, arn = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created), str(arn)
    except Exception:
        raise InvalidNextToken("The token is not valid.") from None


def list_page(
    ctx: Context,
    call: Call,
    kind: str,
    result_key: str,
    *,
    parent_arn: str | None = None,
    dataset_group_arn: str | None = None,
) -> dict[str, Any]:
    token = call.params.get("nextToken")
    page = ctx.store.list(
        kind,
        parent_arn=parent_arn,
        dataset_group_arn=dataset_group_arn,
        limit=int(call.params.get("maxResults") or 100),
        after=decode_token(token) if token else None,
    )
    out: dict[str, Any] = {result_key: [view(r) for r in page.items]}
    if page.next_after is not None:
        out["nextToken"] = encode_token(page.next_after)
    return out


def request_tags(call: Call) -> dict[str, str]:
    tags = {t["tagKey"]: t["tagValue"] for t in call.params.get("tags") or []}
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"The number of tags ({len(tags)}) exceeds the limit of {MAX_TAGS}.")
    return tags


def ensure_name_free(ctx: Context, arn: str, label: str, name: str) -> None:
    """Names are unique per kind through the ARN they make; say so with the resource's label."""
    if ctx.store.get(arn) is not None:
        raise ResourceAlreadyExists(f"{label} with name {name} already exists.")


def ensure_no_children(ctx: Context, what: str, children: Iterable[tuple[str, str, int]]) -> None:
    """children: (label, kind, count); raise ResourceInUse naming the first kind still present."""
    for label, _kind, count in children:
        if count:
            raise ResourceInUse(f"Cannot delete {what}: it still has {count} {label}. Delete them first.")


def require_active(resource: Resource, label: str) -> None:
    if resource.status != ACTIVE:
        raise ResourceInUse(f"{label} {resource.arn} is not ACTIVE (status: {resource.status}).")


def check_ranking_influence(influence: dict[str, Any], where: str) -> None:
    """rankingInfluence of a campaign or batch job: POPULARITY / FRESHNESS, each in [0, 1]."""
    for key, value in influence.items():
        if key not in ("POPULARITY", "FRESHNESS"):
            raise InvalidInput(f"{where}: unknown key '{key}' (POPULARITY or FRESHNESS).")
        if not 0.0 <= float(value) <= 1.0:
            raise InvalidInput(f"{where}.{key} must be between 0 and 1; got {value}.")


def check_role_kms(params: dict[str, Any]) -> None:
    if params.get("kmsKeyArn") and not params.get("roleArn"):
        raise InvalidInput("Supplying a KMS key is only valid when also specifying an IAM role (roleArn).")


def all_of(ctx: Context, kind: str, **filters: Any) -> Iterator[Resource]:
    """Every resource of a kind (paging through the store)."""
    return all_resources(ctx.store, kind, **filters)


def new_resource(
    ctx: Context,
    kind: str,
    arn: str,
    name: str | None,
    attrs: dict[str, Any],
    *,
    group: str | None = None,
    parent: str | None = None,
    status: str = ACTIVE,
    name_key: str | None = None,
    alt_key: str | None = None,
) -> Resource:
    """A resource as created now; ``group`` is its dataset group, ``parent`` defaults to it."""
    now = ctx.now()
    return Resource(
        arn=arn,
        kind=kind,
        name=name,
        name_key=name_key,
        parent_arn=parent or group,
        dataset_group_arn=group,
        alt_key=alt_key,
        status=status,
        created=now,
        updated=now,
        attrs=attrs,
    )


def create_job(
    ctx: Context,
    call: Call,
    kind: str,
    job_kind: str,
    attrs: dict[str, Any],
    *,
    group: str | None,
    parent: str | None = None,
    max_in_flight: int = 5,
) -> str:
    """A job-backed resource named by ``jobName``, in CREATE PENDING with its job queued; at most
    ``max_in_flight`` of its kind pending or in progress in the caller's account and region."""
    name = call.params["jobName"]
    arn = call.scope.arn(kind, name)
    ensure_name_free(ctx, arn, registry.kind(kind).label, name)
    ctx.store.create(
        new_resource(ctx, kind, arn, name, attrs, group=group, parent=parent, status=CREATE_PENDING),
        tags=request_tags(call),
        job=Job(kind=job_kind, resource_arn=arn),
        quota=Quota(
            kind,
            max_in_flight,
            LimitExceeded(f"More than {max_in_flight} resources with PENDING or IN_PROGRESS status."),
            statuses=IN_FLIGHT,
            arn_prefix=call.scope.prefix,
        ),
    )
    return arn


Handler = Callable[[Context, Call], dict[str, Any]]


def describer(kind: str) -> Handler:
    """A DescribeX handler: the resource named by its ARN member, as ``{describe key: view}``."""
    declared = registry.kind(kind)

    def describe(ctx: Context, call: Call) -> dict[str, Any]:
        return {declared.describe_key: view(require(ctx, call.params[declared.arn_member], kind))}

    return describe


def lister(kind: str, parent: str | None = None) -> Handler:
    """A ListX handler, newest first, optionally for one parent (an unknown parent is an error)."""
    result_key = registry.kind(kind).list_key
    member = registry.kind(parent).arn_member if parent else None

    def list_(ctx: Context, call: Call) -> dict[str, Any]:
        parent_arn = call.params.get(member) if member else None
        if parent_arn and parent:
            require(ctx, parent_arn, parent)
        if parent == "dataset-group":
            return list_page(ctx, call, kind, result_key, dataset_group_arn=parent_arn)
        return list_page(ctx, call, kind, result_key, parent_arn=parent_arn)

    return list_
