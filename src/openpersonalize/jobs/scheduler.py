"""Automatic training (performAutoTraining): a new solution version every N days (default 7); and
recommenders, which AWS retrains every 7 days (`recommender_retrain_days`), while ACTIVE.

The first automatic version comes `auto_training_first_delay_seconds` after the solution is
created (AWS: within an hour) unless a version exists by then. Any worker may run this; a
compare-and-set on the solution makes sure only one of them starts each training.
"""

from __future__ import annotations

import logging
import re

from openpersonalize.control.context import Context
from openpersonalize.control.lifecycle import ACTIVE, IN_FLIGHT
from openpersonalize.control.resources import recommender as recommenders
from openpersonalize.control.resources.common import all_of
from openpersonalize.control.resources.solution_version import start_training
from openpersonalize.store.metadata import Resource

log = logging.getLogger(__name__)
DEFAULT_DAYS = 7
_RATE = re.compile(r"rate\((\d+) days?\)")


def interval_seconds(solution: Resource) -> float:
    config = solution.attrs.get("solutionConfig") or {}
    expression = (config.get("autoTrainingConfig") or {}).get("schedulingExpression") or ""
    match = _RATE.fullmatch(expression.strip())
    days = int(match.group(1)) if match else DEFAULT_DAYS
    return max(1, min(days, 30)) * 86400.0


def due_time(ctx: Context, solution: Resource) -> float | None:
    """When the next automatic training is due, or None while one is running or it is off."""
    if solution.status != ACTIVE or not solution.attrs.get("performAutoTraining", True):
        return None
    latest = ctx.store.list("solution-version", parent_arn=solution.arn, limit=1).items
    if latest and latest[0].status in IN_FLIGHT:
        return None
    if latest:
        return latest[0].created + interval_seconds(solution)
    return solution.created + ctx.settings.auto_training_first_delay_seconds


def run_due_trainings(ctx: Context, now: float) -> list[str]:
    started = []
    for solution in all_of(ctx, "solution"):
        due = due_time(ctx, solution)
        if due is None or now < due:
            continue
        claimed: list[bool] = []

        def claim(current: Resource, due: float = due, claimed: list[bool] = claimed) -> None:
            if float(current.attrs.get("_autoTrainingClaimed", 0.0)) < due:
                current.attrs["_autoTrainingClaimed"] = now
                claimed.append(True)

        ctx.store.update(solution.arn, modify=claim)
        if not claimed:
            continue  # another worker took it
        try:
            arn = start_training(
                ctx, solution, name=None, mode="AUTOTRAIN", training_type="AUTOMATIC", tags={}
            )
        except Exception as exc:  # e.g. the in-flight quota; try again at the next tick
            log.warning("automatic training of %s not started: %s", solution.arn, exc)
            ctx.store.update(solution.arn, attrs={"_autoTrainingClaimed": 0.0})
            continue
        log.info("automatic training of %s started: %s", solution.arn, arn)
        started.append(arn)
    return started


def run_due_retrainings(ctx: Context, now: float) -> list[str]:
    """A new training for every ACTIVE recommender whose newest one is older than the interval."""
    started = []
    interval = ctx.settings.recommender_retrain_days * 86400.0
    for recommender in all_of(ctx, recommenders.KIND, statuses=[ACTIVE, *IN_FLIGHT]):
        recommender = recommenders.settle(ctx, recommender)
        if recommender.status != ACTIVE:
            continue
        latest = ctx.store.list(recommenders.VERSION_KIND, parent_arn=recommender.arn, limit=1).items
        if not latest or latest[0].status in IN_FLIGHT or now < latest[0].created + interval:
            continue
        due = latest[0].created + interval
        claimed: list[bool] = []

        def claim(current: Resource, due: float = due, claimed: list[bool] = claimed) -> None:
            if float(current.attrs.get("_retrainClaimed", 0.0)) < due:
                current.attrs["_retrainClaimed"] = now
                claimed.append(True)

        ctx.store.update(recommender.arn, modify=claim)
        if claimed:
            started.append(recommenders.start_training(ctx, recommender))
            log.info("retraining recommender %s: %s", recommender.arn, started[-1])
    return started
