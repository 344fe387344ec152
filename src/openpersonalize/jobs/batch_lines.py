"""The JSON Lines of batch inference and batch segment jobs (spec §16): one input line -> one typed
request -> one output line.

    in : {"userId": "4638"}                                      USER_PERSONALIZATION, POPULAR_ITEMS
         {"itemId": "105"}                                       RELATED_ITEMS
         {"userId": "891", "itemList": ["27", "886", "101"]}     PERSONALIZED_RANKING
         any of them + "filterValues": {"GENRES": "\\"horror\\""}
    out: {"input": <the line>, "output": {"recommendedItems": [...], "scores": [...]}, "error": null}

and of batch segment jobs:

    in : {"itemId": "105"}                                       aws-item-affinity
         {"itemAttributes": "ITEMS.genres = \\"Comedy\\""}        aws-item-attribute-affinity
    out: {"input": {"itemId": "105"}, "output": {"recommendedUsers": [...]}}
         {"itemAttributes": "...", "output": {"recommendedUsers": [...]}}

A line that cannot be answered gets ``"output": null`` and the reason in ``"error"``; the job goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from openpersonalize.serving.requests import Answer, Rank, Recommend, Segment

MAX_ID_LENGTH = 256
MAX_ITEM_LIST = 500
MAX_FILTER_VALUES = 25
MAX_FILTER_VALUE_LENGTH = 1000


class BadLine(ValueError):
    """The line is not a request this job can answer; the message goes to its "error"."""


def parse(text: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise BadLine(f"The line is not valid JSON: {error}.") from None
    if not isinstance(value, dict):
        raise BadLine('Each line must be a JSON object, such as {"userId": "42"}.')
    return value


def request_of(
    line: Mapping[str, Any], recipe_type: str, num_results: int, filter_arn: str | None
) -> Recommend | Rank:
    """The runtime request a parsed line asks for, after the checks GetRecommendations' wire does."""
    values = _filter_values(line.get("filterValues"))
    if recipe_type == "PERSONALIZED_RANKING":
        items = line.get("itemList")
        if not isinstance(items, list) or not items or not all(_is_id(i) for i in items):
            raise BadLine("itemList is required: a list of 1 to 500 item IDs (strings).")
        if len(items) > MAX_ITEM_LIST:
            raise BadLine(f"itemList can hold at most {MAX_ITEM_LIST} items; got {len(items)}.")
        return Rank("", _id(line, "userId", required=True) or "", tuple(items), filter_arn, values)
    if recipe_type == "RELATED_ITEMS":
        item = _id(line, "itemId", required=True)
        return Recommend(item_id=item, user_id=_id(line, "userId"), num_results=num_results,
                         filter_arn=filter_arn, filter_values=values)  # fmt: skip
    needs_user = recipe_type == "USER_PERSONALIZATION"
    return Recommend(user_id=_id(line, "userId", required=needs_user), num_results=num_results,
                     filter_arn=filter_arn, filter_values=values)  # fmt: skip


def segment_of(
    line: Mapping[str, Any], by_attributes: bool, num_results: int, filter_arn: str | None
) -> Segment:
    """A batch segment line: {"itemId": ...} (Item-Affinity) or {"itemAttributes": ...}."""
    values = _filter_values(line.get("filterValues"))
    if by_attributes:
        text = line.get("itemAttributes")
        if not isinstance(text, str) or not text.strip():
            raise BadLine('itemAttributes is required, such as "ITEMS.GENRES = \\"Comedy\\"".')
        return Segment(
            item_attributes=text, num_results=num_results, filter_arn=filter_arn, filter_values=values
        )
    item = _id(line, "itemId", required=True)
    return Segment(item_id=item, num_results=num_results, filter_arn=filter_arn, filter_values=values)


def segment_line(line: Any, users: list[str], by_attributes: bool) -> bytes:
    """As AWS's examples show them: Item-Attribute-Affinity lines keep their members at the top."""
    output = {"recommendedUsers": users}
    if by_attributes and isinstance(line, dict):
        return orjson.dumps({**line, "output": output}) + b"\n"
    return orjson.dumps({"input": line, "output": output}) + b"\n"


def answer_line(line: Any, answer: Answer, scored: bool) -> bytes:
    output: dict[str, Any] = {"recommendedItems": [i.item_id for i in answer.items]}
    if scored:
        output["scores"] = [i.score for i in answer.items]
    return orjson.dumps({"input": line, "output": output, "error": None}) + b"\n"


def error_line(line: Any, message: str) -> bytes:
    return orjson.dumps({"input": line, "output": None, "error": message}) + b"\n"


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def _id(line: Mapping[str, Any], member: str, *, required: bool = False) -> str | None:
    value = line.get(member)
    if value is None:
        if required:
            raise BadLine(f"{member} is required in each line of this job's input.")
        return None
    if not _is_id(value):
        raise BadLine(f"{member} must be a string of 1 to {MAX_ID_LENGTH} characters.")
    return str(value)


def _filter_values(values: Any) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise BadLine('filterValues must be an object of strings, such as {"GENRES": "\\"comedy\\""}.')
    if len(values) > MAX_FILTER_VALUES:
        raise BadLine(f"filterValues can hold at most {MAX_FILTER_VALUES} entries; got {len(values)}.")
    long = [k for k, v in values.items() if len(v) > MAX_FILTER_VALUE_LENGTH]
    if long:
        raise BadLine(f"filterValues.{long[0]} is longer than {MAX_FILTER_VALUE_LENGTH} characters.")
    return {str(k): v for k, v in values.items()}
