"""The personalize-events API: PutEvents, PutItems, PutUsers, PutActions, PutActionInteractions.

Each request becomes schema rows appended to the durable event log; the call returns only once
the rows are durable (an acknowledged write survives kill -9). Exact duplicates are dropped when
the data is read (see data/dataset_reader.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.records import RESERVED_EVENT_KEYS, coerce, parse_properties, require_fields
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import InvalidInput, ResourceInUse, ResourceNotFound
from openpersonalize.scope import Scope
from openpersonalize.store.interactions import InteractionsStore
from openpersonalize.store.metadata import MetadataStore, Resource

EVENT_MAX_BYTES = 10 * 1024
# Year 9999: later "timestamps" are mistakes (milliseconds, nanoseconds) and would not fit a date.
MAX_EPOCH_SECONDS = 253402300800
CACHE_SECONDS = 1.0

ANONYMOUS = frozenset({"USER_ID"})
# Impressions are stored joined with '|' and, like other strings, hold at most this many characters.
IMPRESSION_MAX_CHARS = 1000
ACTION_MEMBER_COLUMNS = frozenset(
    {"USER_ID", "ACTION_ID", "TIMESTAMP", "EVENT_TYPE", "IMPRESSION", "RECOMMENDATION_ID"}
)


@dataclass(frozen=True)
class Target:
    """The dataset a request writes to, resolved from a trackingId or datasetArn."""

    dataset_id: str
    dataset_type: str
    schema: ParsedSchema
    arn: str  # the dataset's: its account and region are the caller's, or the caller may not write


class EventIngestor:
    def __init__(
        self, store: MetadataStore, interactions: InteractionsStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.interactions = interactions
        self.clock = clock
        self._cache: dict[str, tuple[float, Target]] = {}
        # Called with each batch once it is durable (e.g. serving's live user state).
        self.listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        # recommendationId -> (the campaign that answered, the items it showed), when known here.
        self.recommendations: Callable[[str], tuple[str, Sequence[str]] | None] = lambda _: None
        self._schemas: dict[str, ParsedSchema] = {}

    # -- operations -------------------------------------------------------------------------
    async def put_events(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        target = self._by_tracking_id(p["trackingId"], scope)
        rows = [self._event_row(p, i, e, target) for i, e in enumerate(p["eventList"], 1)]
        await self._append(rows)
        return {}

    async def put_items(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        scope.check(p["datasetArn"], "PutItems")
        return await self._put_records(p, "items", "ITEMS", "itemId", "ITEM_ID")

    async def put_users(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        scope.check(p["datasetArn"], "PutUsers")
        return await self._put_records(p, "users", "USERS", "userId", "USER_ID")

    async def put_actions(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        scope.check(p["datasetArn"], "PutActions")
        return await self._put_records(p, "actions", "ACTIONS", "actionId", "ACTION_ID")

    async def put_action_interactions(self, p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        missing = f"No action interactions dataset has trackingId {p['trackingId']}."
        target = self._resolve(
            "ai:" + p["trackingId"], lambda: self.store.find("dataset", p["trackingId"]), missing
        )
        if not scope.owns(target.arn):
            raise ResourceNotFound(missing)
        rows = []
        for i, a in enumerate(p["actionInteractions"], 1):
            where = f"actionInteractions[{i}]"
            _check_size(a, where)
            if not a.get("userId") and not a.get("sessionId"):
                raise InvalidInput(f"{where}: give a userId or a sessionId.")
            row = parse_properties(
                a.get("properties"), target.schema, f"{where}.properties",
                reserved=RESERVED_EVENT_KEYS, skip=ACTION_MEMBER_COLUMNS,
            )  # fmt: skip
            row.update(
                USER_ID=a.get("userId"),
                ACTION_ID=a["actionId"],
                TIMESTAMP=_epoch_seconds(a["timestamp"], f"{where}.timestamp"),
                EVENT_TYPE=a["eventType"],
            )
            _optional(row, target.schema, "IMPRESSION", _impression(a.get("impression"), where))
            _optional(row, target.schema, "RECOMMENDATION_ID", a.get("recommendationId"))
            row = _fill(row, target.schema, where, anonymous_ok=True)
            rows.append(self._meta(row, target, a.get("sessionId"), a.get("eventId")))
        await self._append(rows)
        return {}

    async def _append(self, rows: list[dict[str, Any]]) -> None:
        await self.interactions.append(rows)
        for listener in self.listeners:
            listener(rows)

    # -- rows -------------------------------------------------------------------------------
    def _event_row(self, p: dict[str, Any], i: int, e: dict[str, Any], target: Target) -> dict[str, Any]:
        where = f"eventList[{i}]"
        _check_size(e, where)
        schema = target.schema
        # Any Interactions field may come in `properties`, ITEM_ID and EVENT_VALUE included (AWS's
        # samples send {"itemId": "1653"}); given both as a member and a property, they must agree.
        row = parse_properties(
            e.get("properties"), schema, f"{where}.properties", reserved=RESERVED_EVENT_KEYS
        )
        row["USER_ID"] = p.get("userId")
        row["TIMESTAMP"] = _epoch_seconds(e["sentAt"], f"{where}.sentAt")
        item = _agreed(e.get("itemId"), row.get("ITEM_ID"), f"{where}.itemId")
        if "ITEM_ID" in schema.names:
            if not item:
                raise InvalidInput(
                    f"{where}.itemId is required (as a member or in properties): the Interactions schema has ITEM_ID."
                )
            row["ITEM_ID"] = item
        _optional(row, schema, "EVENT_TYPE", e["eventType"], strict=False)
        value_field = schema.field("EVENT_VALUE")
        value = e.get("eventValue")
        if value is not None and value_field is not None:
            value = coerce(value_field, value, f"{where}.eventValue")
        _optional(
            row,
            schema,
            "EVENT_VALUE",
            _agreed(value, row.get("EVENT_VALUE"), f"{where}.eventValue"),
            where=where,
        )
        # Explicit impressions win; else the list the recommendationId answered (implicit).
        shown = self.recommendations(e["recommendationId"]) if e.get("recommendationId") else None
        impression = _impression(e.get("impression"), where) or (_implicit(shown[1]) if shown else None)
        _optional(row, schema, "IMPRESSION", impression)
        _optional(row, schema, "RECOMMENDATION_ID", e.get("recommendationId"))
        member_source = (e.get("metricAttribution") or {}).get("eventAttributionSource")
        source = _agreed(member_source, row.get("EVENT_ATTRIBUTION_SOURCE"), f"{where}.metricAttribution")
        _optional(row, schema, "EVENT_ATTRIBUTION_SOURCE", source)
        row = _fill(row, schema, where, anonymous_ok=True)
        meta = self._meta(row, target, p["sessionId"], e.get("eventId"))
        # Kept even when the schema lacks the columns: impressions and attribution use them.
        meta["_event_type"] = e["eventType"]
        meta["_recommendation_id"] = e.get("recommendationId")
        meta["_impression"] = e.get("impression") or (impression.split("|") if impression else None)
        meta["_recommended_by"] = shown[0] if shown else None
        meta["_attribution_source"] = source
        return meta

    async def _put_records(
        self, p: dict[str, Any], member: str, dataset_type: str, id_member: str, id_column: str
    ) -> dict[str, Any]:
        target = self._by_dataset_arn(p["datasetArn"], dataset_type)
        rows = []
        for i, record in enumerate(p[member], 1):
            where = f"{member}[{i}]"
            row = parse_properties(
                record.get("properties"), target.schema, f"{where}.properties", skip=frozenset({id_column})
            )
            row[id_column] = record[id_member]
            if "CREATION_TIMESTAMP" in target.schema.names and row.get("CREATION_TIMESTAMP") is None:
                row["CREATION_TIMESTAMP"] = int(self.clock())  # a new record's age starts now
            rows.append(self._meta(_fill(row, target.schema, where), target, None, None))
        await self._append(rows)
        return {}

    def _meta(
        self, row: dict[str, Any], target: Target, session: str | None, event_id: str | None
    ) -> dict[str, Any]:
        row["_ds"] = target.dataset_id
        row["_type"] = target.dataset_type
        row["_at"] = self.clock()
        if session is not None:
            row["_session"] = session
        if event_id is not None:
            row["_event_id"] = event_id
        return row

    # -- resolution (cached briefly: these run on every request) ----------------------------
    def _by_tracking_id(self, tracking_id: str, scope: Scope) -> Target:
        def lookup() -> Resource | None:
            tracker = self.store.find("event-tracker", tracking_id)
            if tracker is None:
                return None
            datasets = self.store.list("dataset", dataset_group_arn=tracker.dataset_group_arn).items
            found = [d for d in datasets if d.attrs.get("datasetType") == "INTERACTIONS"]
            if not found:
                raise InvalidInput(
                    f"The dataset group of trackingId {tracking_id} has no Interactions dataset; create one first."
                )
            return found[0]

        missing = f"The trackingId {tracking_id} does not exist."
        try:
            target = self._resolve("t:" + tracking_id, lookup, missing)
        except ResourceNotFound as exc:
            raise InvalidInput(exc.message) from None  # PutEvents models only InvalidInputException
        if not scope.owns(target.arn):  # another account's or region's tracker
            raise InvalidInput(missing)
        return target

    def _by_dataset_arn(self, arn: str, dataset_type: str) -> Target:
        target = self._resolve("d:" + arn, lambda: self.store.get(arn), f"Resource Arn {arn} does not exist.")
        if target.dataset_type != dataset_type:
            raise InvalidInput(f"Dataset {arn} is a {target.dataset_type} dataset, not {dataset_type}.")
        return target

    def _resolve(self, key: str, lookup: Callable[[], Resource | None], missing: str) -> Target:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        dataset = lookup()
        if dataset is None or dataset.kind != "dataset":
            raise ResourceNotFound(missing)
        if dataset.status != "ACTIVE":
            raise ResourceInUse(f"Dataset {dataset.arn} is not ACTIVE (status: {dataset.status}).")
        target = Target(
            dataset.attrs["_id"],
            dataset.attrs["datasetType"],
            self._schema(dataset.attrs["schemaArn"]),
            dataset.arn,
        )
        self._cache[key] = (now, target)
        return target

    def _schema(self, schema_arn: str) -> ParsedSchema:
        resource = self.store.get(schema_arn)
        if resource is None:
            raise ResourceNotFound(f"Resource Arn {schema_arn} does not exist.")
        text = resource.attrs["schema"]
        # Keyed by content: a schema deleted and recreated under the same ARN may differ.
        schema = self._schemas.get(text)
        if schema is None:
            schema = self._schemas[text] = parse_schema(text)
        return schema

    def invalidate(self) -> None:
        """Forget cached resolutions (called after control-plane changes in this process)."""
        self._cache.clear()


def _epoch_seconds(value: float, where: str) -> int:
    """A Unix time in seconds that fits the long TIMESTAMP column."""
    if not 0 <= value < MAX_EPOCH_SECONDS:
        raise InvalidInput(
            f"{where} must be Unix epoch seconds between 0 and {MAX_EPOCH_SECONDS}; got {value}."
        )
    return int(value)


def _agreed(member: Any, from_properties: Any, where: str) -> Any:
    """A value given as a request member, in `properties`, or in both when they agree."""
    if member is not None and from_properties is not None and member != from_properties:
        raise InvalidInput(
            f"{where} is {member!r} but properties give {from_properties!r}; give it once, or the same in both."
        )
    return member if member is not None else from_properties


def _impression(items: list[str] | None, where: str) -> str | None:
    if not items:
        return None
    joined = "|".join(items)
    if len(joined) > IMPRESSION_MAX_CHARS:
        raise InvalidInput(
            f"{where}.impression joined with '|' is {len(joined)} characters long; "
            f"an impression may have at most {IMPRESSION_MAX_CHARS}."
        )
    return joined


def _implicit(items: Sequence[str]) -> str | None:
    """The shown list as an impression: as many of its first items as fit the column."""
    joined = ""
    for item in items:
        longer = f"{joined}|{item}" if joined else item
        if len(longer) > IMPRESSION_MAX_CHARS:
            break
        joined = longer
    return joined or None


def _check_size(record: dict[str, Any], where: str) -> None:
    if len(orjson.dumps(record)) > EVENT_MAX_BYTES:
        raise InvalidInput(f"{where} is larger than {EVENT_MAX_BYTES // 1024} KB.")


def _optional(
    row: dict[str, Any],
    schema: ParsedSchema,
    column: str,
    value: Any,
    *,
    strict: bool = True,
    where: str = "",
) -> None:
    """Set a reserved column if the schema has it; a value for a column it lacks is an error."""
    if column in schema.names:
        row[column] = value
    elif value is not None and strict and where:
        raise InvalidInput(f"{where}: the {schema.record_name} schema has no {column} field for this value.")


def _fill(
    row: dict[str, Any], schema: ParsedSchema, where: str, *, anonymous_ok: bool = False
) -> dict[str, Any]:
    # Anonymous events (a sessionId, no userId) leave USER_ID empty, even where the schema requires it.
    return require_fields(row, schema, where, may_be_null=ANONYMOUS if anonymous_ok else frozenset())
