"""Run a BatchInferenceJob: every input line through the GetRecommendations / GetPersonalizedRanking
pipeline of serving (filters, exploration, cold items, live events) — the same code, in bulk."""

from __future__ import annotations

from typing import Any

from openpersonalize.errors import ServiceError
from openpersonalize.jobs import batch_lines, job_serving, parts
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.scope import Scope
from openpersonalize.serving.requests import Rank
from openpersonalize.serving.runtime import Runtime
from openpersonalize.serving.targets import Target

JOB_KIND = "batch-inference"
PART_KIND = "batch-inference-part"
LABEL = "Batch inference job"


def run(run: JobRun) -> dict[str, Any]:
    job = run.resource
    _target(run)  # a model or filter that cannot serve fails the job before any part is queued
    files = parts.stage(run, job.attrs["jobInput"]["s3DataSource"]["path"])
    parts.run_parts(run, PART_KIND, files, run_part)
    parts.join_outputs(run, files, job.attrs["jobOutput"]["s3DataDestination"]["path"])
    return {}


def run_part(run: JobRun) -> None:
    """One part's lines -> its output lines (run by whichever worker took the part)."""
    runtime, target = _target(run)
    job = run.resource
    scope = job_serving.scope_of(job.arn)
    kind, scored = target.recipe.recipe_type, target.recipe.scored
    num_results, filter_arn = int(job.attrs.get("numResults") or 25), job.attrs.get("filterArn")
    parts.answer_part(
        run, lambda text: _answer(runtime, target, scope, text, kind, scored, num_results, filter_arn)
    )


def _target(run: JobRun) -> tuple[Runtime, Target]:
    return job_serving.target_for(run, LABEL, run.resource.attrs.get("batchInferenceJobConfig") or {})


def _answer(
    runtime: Runtime,
    target: Target,
    scope: Scope,
    text: bytes,
    kind: str,
    scored: bool,
    k: int,
    filter_arn: str | None,
) -> bytes:
    line: Any = text.decode("utf-8", "replace").strip()
    try:
        line = batch_lines.parse(text)
        request = batch_lines.request_of(line, kind, k, filter_arn)
        if isinstance(request, Rank):
            answer = runtime.rank_for(target, request, scope)
        else:
            answer = runtime.recommend_for(target, request, scope)
    except batch_lines.BadLine as error:
        return batch_lines.error_line(line, str(error))
    except ServiceError as error:  # what GetRecommendations would have refused the line with
        return batch_lines.error_line(line, f"{error.code}: {error}")
    return batch_lines.answer_line(line, answer, scored)
