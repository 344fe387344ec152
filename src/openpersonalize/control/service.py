"""The control-plane facade: operation name -> handler, for every layer above (api, console, cli)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openpersonalize.control.context import Call, Context
from openpersonalize.control.resources import (
    batch_inference_job,
    batch_segment_job,
    campaign,
    data_deletion_job,
    dataset,
    dataset_export_job,
    dataset_group,
    dataset_import_job,
    event_tracker,
    filter,
    metric_attribution,
    recipe,
    recommender,
    schema,
    solution,
    solution_version,
    tags,
)
from openpersonalize.errors import NotImplementedYet
from openpersonalize.scope import Scope

Handler = Callable[[Context, Call], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    **dataset_group.OPERATIONS,
    **schema.OPERATIONS,
    **dataset.OPERATIONS,
    **dataset_import_job.OPERATIONS,
    **dataset_export_job.OPERATIONS,
    **data_deletion_job.OPERATIONS,
    **event_tracker.OPERATIONS,
    **filter.OPERATIONS,
    **tags.OPERATIONS,
    **recipe.OPERATIONS,
    **solution.OPERATIONS,
    **solution_version.OPERATIONS,
    **campaign.OPERATIONS,
    **recommender.OPERATIONS,
    **metric_attribution.OPERATIONS,
    **batch_inference_job.OPERATIONS,
    **batch_segment_job.OPERATIONS,
}


class ControlPlane:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def call(self, operation: str, params: dict[str, Any], scope: Scope | None = None) -> dict[str, Any]:
        handler = HANDLERS.get(operation)
        if handler is None:
            raise NotImplementedYet(f"The operation {operation} is not implemented by this server yet.")
        scope = scope or Scope(self.ctx.settings.region, self.ctx.settings.account_id)
        return handler(self.ctx.scoped(scope, operation), Call(params, scope))

    @staticmethod
    def implemented() -> frozenset[str]:
        return frozenset(HANDLERS)
