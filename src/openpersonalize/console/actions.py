"""What the console's forms do, each one control-plane or runtime call as the API would make it.
A form's fields arrive as strings; each action shapes them into the operation's members, and the
operation's own validation speaks when they are wrong (the same message an SDK would get)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from openpersonalize.console.pages import DELETABLE, Pages, operation
from openpersonalize.control import arns, registry
from openpersonalize.errors import InvalidInput
from openpersonalize.scope import Scope

Runtime = Callable[[str, dict[str, Any], Scope], Awaitable[dict[str, Any]]]


def _required(form: Mapping[str, str], name: str, label: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise InvalidInput(f"{label} is required.")
    return value


def _number(form: Mapping[str, str], name: str, label: str, default: int) -> int:
    raw = (form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{label} must be a whole number; got {raw!r}.") from None


def start_import(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    params: dict[str, Any] = {
        "jobName": _required(form, "jobName", "Job name"),
        "datasetArn": _required(form, "datasetArn", "Dataset"),
        "dataSource": {"dataLocation": _required(form, "dataLocation", "Data location")},
        "importMode": form.get("importMode") or "FULL",
    }
    if form.get("roleArn"):
        params["roleArn"] = form["roleArn"].strip()
    return pages.call(scope, "CreateDatasetImportJob", **params)["datasetImportJobArn"]


def train(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    return pages.call(
        scope,
        "CreateSolutionVersion",
        solutionArn=_required(form, "solutionArn", "Solution"),
        trainingMode=form.get("trainingMode") or "FULL",
    )["solutionVersionArn"]


def deploy(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    return pages.call(
        scope,
        "CreateCampaign",
        name=_required(form, "name", "Campaign name"),
        solutionVersionArn=_required(form, "solutionVersionArn", "Solution version"),
        minProvisionedTPS=_number(form, "minProvisionedTPS", "Minimum provisioned TPS", 1),
    )["campaignArn"]


def batch_inference(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    params: dict[str, Any] = {
        "jobName": _required(form, "jobName", "Job name"),
        "solutionVersionArn": _required(form, "solutionVersionArn", "Solution version"),
        "jobInput": {"s3DataSource": {"path": _required(form, "inputPath", "Input path")}},
        "jobOutput": {"s3DataDestination": {"path": _required(form, "outputPath", "Output path")}},
        # Required by the API; this server reads with its own storage credentials (docs/security.md).
        "roleArn": (form.get("roleArn") or "").strip()
        or f"arn:aws:iam::{scope.account}:role/openpersonalize",
        "numResults": _number(form, "numResults", "Number of results", 25),
    }
    if form.get("filterArn"):
        params["filterArn"] = form["filterArn"]
    return pages.call(scope, "CreateBatchInferenceJob", **params)["batchInferenceJobArn"]


def create_solution(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    params: dict[str, Any] = {
        "name": _required(form, "name", "Solution name"),
        "datasetGroupArn": _required(form, "datasetGroupArn", "Dataset group"),
        "recipeArn": _required(form, "recipeArn", "Recipe"),
    }
    if (form.get("eventType") or "").strip():
        params["eventType"] = form["eventType"].strip()
    return pages.call(scope, "CreateSolution", **params)["solutionArn"]


def create_filter(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    return pages.call(
        scope,
        "CreateFilter",
        name=_required(form, "name", "Filter name"),
        datasetGroupArn=_required(form, "datasetGroupArn", "Dataset group"),
        filterExpression=_required(form, "filterExpression", "Filter expression"),
    )["filterArn"]


def create_event_tracker(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    return pages.call(
        scope,
        "CreateEventTracker",
        name=_required(form, "name", "Event tracker name"),
        datasetGroupArn=_required(form, "datasetGroupArn", "Dataset group"),
    )["eventTrackerArn"]


def start_or_stop_recommender(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    arn = _required(form, "recommenderArn", "Recommender")
    pages.call(
        scope, "StopRecommender" if form.get("to") == "stop" else "StartRecommender", recommenderArn=arn
    )
    return arn


def delete(pages: Pages, scope: Scope, arn: str) -> str | None:
    """Delete the resource; the page to show next (its dataset group's, else the home page)."""
    kind = arns.kind_of(arn)
    if kind not in DELETABLE:
        raise InvalidInput(f"A {kind or 'resource'} cannot be deleted from the console.")
    declared = registry.kind(str(kind))
    described = pages.call(scope, operation("Describe", str(kind)), **{declared.arn_member: arn})
    parent = described[declared.describe_key].get("datasetGroupArn") if kind != "dataset-group" else None
    if kind == "campaign":  # its solution's page, where it was deployed from
        parent = described[declared.describe_key].get("solutionVersionArn", "").rsplit("/", 1)[0] or None
    pages.call(scope, operation("Delete", str(kind)), **{declared.arn_member: arn})
    return parent


def create_experiment(pages: Pages, scope: Scope, form: Mapping[str, str]) -> str:
    variants = []
    for index in range(1, 5):
        target = (form.get(f"variant{index}") or "").strip()
        if not target:
            continue
        kind = arns.kind_of(target)
        variants.append({"name": (form.get(f"variant{index}Name") or f"v{index}").strip(), f"{kind}Arn": target,
                         "share": float(_number(form, f"variant{index}Share", f"Variant {index} share", 1))})  # fmt: skip
    given = {"name": _required(form, "name", "Experiment name"), "variants": variants,
             "metricAttributionArn": (form.get("metricAttributionArn") or "").strip() or None}  # fmt: skip
    return str(pages.book.create(scope, given).name)


async def try_it(
    runtime: Runtime, scope: Scope, form: Mapping[str, str], recipe: str = ""
) -> tuple[str, dict[str, Any]]:
    """Ask the chosen campaign or recommender as GetRecommendations (GetPersonalizedRanking when
    items to rank are given, GetActionRecommendations for a Next-Best-Action campaign) would;
    returns the target and the answer."""
    target = _required(form, "target", "Campaign or recommender")
    if "next-best-action" in recipe:
        asked: dict[str, Any] = {"campaignArn": target, "userId": _required(form, "userId", "User id"),
                                 "numResults": _number(form, "numResults", "Number of results", 5)}  # fmt: skip
        if form.get("filterArn"):
            asked["filterArn"] = form["filterArn"]
            asked["filterValues"] = _filter_values(form.get("filterValues") or "", "Filter values")
        return target, await runtime("GetActionRecommendations", asked, scope)
    member = "recommenderArn" if arns.kind_of(target) == "recommender" else "campaignArn"
    params: dict[str, Any] = {member: target}
    for name, key in (("userId", "userId"), ("itemId", "itemId")):
        if (form.get(name) or "").strip():
            params[key] = form[name].strip()
    if form.get("filterArn"):
        params["filterArn"] = form["filterArn"]
        params["filterValues"] = _filter_values(form.get("filterValues") or "", "Filter values")
    if form.get("promotionFilterArn"):
        params["promotions"] = [{
            "name": "console",
            "filterArn": form["promotionFilterArn"],
            "percentPromotedItems": _number(form, "percentPromotedItems", "Percent promoted", 20),
            "filterValues": _filter_values(form.get("promotionFilterValues") or "", "Promotion filter values"),
        }]  # fmt: skip
    ranked = [i.strip() for i in (form.get("inputList") or "").replace("\n", ",").split(",") if i.strip()]
    if ranked:
        if "userId" not in params:
            raise InvalidInput("A user is required to rank items.")
        params.pop("itemId", None)
        params.pop("promotions", None)
        params["inputList"] = ranked
        return target, await runtime("GetPersonalizedRanking", params, scope)
    if "userId" not in params and "itemId" not in params:
        raise InvalidInput("Give a user, an item, or both.")
    params["numResults"] = _number(form, "numResults", "Number of results", 10)
    return target, await runtime("GetRecommendations", params, scope)


def _filter_values(text: str, label: str) -> dict[str, str]:
    """'{"GENRE": "\\"Comedy\\""}' or GENRE=Comedy lines (quoted for the filter here)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            given = json.loads(text)
        except ValueError:
            raise InvalidInput(f"{label}: not a JSON object.") from None
        if not isinstance(given, dict):
            raise InvalidInput(f"{label}: not a JSON object.")
        return {str(k): str(v) for k, v in given.items()}
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"{label}: write NAME=value, one per line (or a JSON object).")
        value = value.strip()
        values[name.strip()] = value if value.startswith('"') else json.dumps(value)
    return values
