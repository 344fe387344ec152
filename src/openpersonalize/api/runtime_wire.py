"""personalize-runtime on the wire: validated request members -> typed requests, answers -> output members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from openpersonalize.scope import Scope
from openpersonalize.serving.requests import (
    DEFAULT_ACTIONS,
    DEFAULT_RESULTS,
    Act,
    Answer,
    Promotion,
    Rank,
    Recommend,
)
from openpersonalize.serving.runtime import Runtime

Handler = Callable[[dict[str, Any], Scope], Awaitable[dict[str, Any]]]


def handlers(runtime: Runtime) -> dict[str, Handler]:
    """The runtime operations for the dispatcher."""

    def recommend(p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        return recommendations_output(runtime.recommend(recommend_request(p), scope))

    def rank(p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        return ranking_output(runtime.rank(rank_request(p), scope))

    def act(p: dict[str, Any], scope: Scope) -> dict[str, Any]:
        return actions_output(runtime.act(act_request(p), scope))

    return {
        "GetRecommendations": _inline_when_ready(runtime, recommend),
        "GetPersonalizedRanking": _inline_when_ready(runtime, rank),
        "GetActionRecommendations": _inline_when_ready(runtime, act),
    }


def _inline_when_ready(runtime: Runtime, call: Callable[[dict[str, Any], Scope], dict[str, Any]]) -> Handler:
    """Answer on the event loop when the campaign's model is loaded (well under a millisecond; a
    thread hop would cost more than the work); otherwise in the thread pool, where a model load
    or a metadata refresh may block without stalling other requests."""

    async def run(params: dict[str, Any], scope: Scope) -> dict[str, Any]:
        filters = [params.get("filterArn")] + [p.get("filterArn") for p in params.get("promotions") or ()]
        wanted = [arn for arn in filters if isinstance(arn, str) and arn]
        if runtime.is_ready(params.get("campaignArn"), wanted, bool(params.get("metadataColumns"))):
            return call(params, scope)
        return await run_in_threadpool(call, params, scope)

    return run


def recommend_request(p: dict[str, Any]) -> Recommend:
    return Recommend(
        campaign_arn=p.get("campaignArn"),
        recommender_arn=p.get("recommenderArn"),
        user_id=p.get("userId"),
        item_id=p.get("itemId"),
        num_results=DEFAULT_RESULTS if p.get("numResults") is None else int(p["numResults"]),
        filter_arn=p.get("filterArn"),
        filter_values=dict(p.get("filterValues") or {}),
        promotions=tuple(
            Promotion(
                name=promotion.get("name", ""),
                percent=int(promotion.get("percentPromotedItems", 0)),
                filter_arn=promotion.get("filterArn"),
                filter_values=dict(promotion.get("filterValues") or {}),
            )
            for promotion in p.get("promotions") or ()
        ),
        context=dict(p.get("context") or {}),
        metadata_columns={k: tuple(v) for k, v in (p.get("metadataColumns") or {}).items()},
    )


def rank_request(p: dict[str, Any]) -> Rank:
    return Rank(
        campaign_arn=p["campaignArn"],
        user_id=p["userId"],
        input_list=tuple(p["inputList"]),
        filter_arn=p.get("filterArn"),
        filter_values=dict(p.get("filterValues") or {}),
        context=dict(p.get("context") or {}),
        metadata_columns={k: tuple(v) for k, v in (p.get("metadataColumns") or {}).items()},
    )


def items(answer: Answer) -> list[dict[str, Any]]:
    out = []
    for item in answer.items:
        entry: dict[str, Any] = {"itemId": item.item_id}
        if item.score is not None:
            entry["score"] = item.score
        if item.promotion_name is not None:
            entry["promotionName"] = item.promotion_name
        if item.metadata is not None:
            entry["metadata"] = dict(item.metadata)
        if item.reason is not None:
            entry["reason"] = list(item.reason)
        out.append(entry)
    return out


def act_request(p: dict[str, Any]) -> Act:
    return Act(
        campaign_arn=p.get("campaignArn") or "",
        user_id=p.get("userId"),
        num_results=DEFAULT_ACTIONS if p.get("numResults") is None else int(p["numResults"]),
        filter_arn=p.get("filterArn"),
        filter_values=dict(p.get("filterValues") or {}),
    )


def actions_output(answer: Answer) -> dict[str, Any]:
    actions = []
    for item in answer.items:
        entry: dict[str, Any] = {"actionId": item.item_id}
        if item.score is not None:
            entry["score"] = item.score
        actions.append(entry)
    return {"actionList": actions, "recommendationId": answer.recommendation_id}


def recommendations_output(answer: Answer) -> dict[str, Any]:
    return {"itemList": items(answer), "recommendationId": answer.recommendation_id}


def ranking_output(answer: Answer) -> dict[str, Any]:
    return {"personalizedRanking": items(answer), "recommendationId": answer.recommendation_id}
