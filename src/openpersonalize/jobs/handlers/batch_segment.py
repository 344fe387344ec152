"""Run a BatchSegmentJob: for each item (or item-attribute query) of the input, the users most
likely to interact with it, by the job's aws-item-affinity / aws-item-attribute-affinity model."""

from __future__ import annotations

from typing import Any

from openpersonalize.errors import DataError, ServiceError
from openpersonalize.jobs import batch_lines, job_serving, parts
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.scope import Scope
from openpersonalize.serving.runtime import Runtime
from openpersonalize.serving.targets import Target

JOB_KIND = "batch-segment"
PART_KIND = "batch-segment-part"
LABEL = "Batch segment job"
# Queries per input file (spec §19).
MAX_QUERIES = {"aws-item-affinity": 500, "aws-item-attribute-affinity": 10}


def run(run: JobRun) -> dict[str, Any]:
    job = run.resource
    _, target = _target(run)
    files = parts.stage(run, job.attrs["jobInput"]["s3DataSource"]["path"])
    limit = MAX_QUERIES.get(target.recipe.name)
    for input_file in files:
        queries = sum(int(str(p["lines"])) for p in input_file.parts)
        if limit is not None and queries > limit:
            run.ctx.objects.delete_prefix(parts.staging_prefix(run))
            name = input_file.output_name.removesuffix(".out")
            raise DataError(
                f"{name} holds {queries} queries; {target.recipe.name} takes at most {limit} per file."
            )
    parts.run_parts(run, PART_KIND, files, run_part)
    parts.join_outputs(run, files, job.attrs["jobOutput"]["s3DataDestination"]["path"])
    return {}


def run_part(run: JobRun) -> None:
    runtime, target = _target(run)
    job = run.resource
    scope = job_serving.scope_of(job.arn)
    by_attributes = target.recipe.name == "aws-item-attribute-affinity"
    k, filter_arn = int(job.attrs.get("numResults") or 25), job.attrs.get("filterArn")
    parts.answer_part(
        run,
        lambda text: _answer(runtime, target, scope, text, by_attributes, k, filter_arn),
        progress_every=1,
    )


def _target(run: JobRun) -> tuple[Runtime, Target]:
    return job_serving.target_for(run, LABEL, {})


def _answer(
    runtime: Runtime,
    target: Target,
    scope: Scope,
    text: bytes,
    by_attributes: bool,
    k: int,
    filter_arn: str | None,
) -> bytes:
    line: Any = text.decode("utf-8", "replace").strip()
    try:
        line = batch_lines.parse(text)
        users = runtime.segment_for(target, batch_lines.segment_of(line, by_attributes, k, filter_arn), scope)
    except batch_lines.BadLine as error:
        return batch_lines.error_line(line, str(error))
    except ServiceError as error:
        return batch_lines.error_line(line, f"{error.code}: {error}")
    return batch_lines.segment_line(line, users, by_attributes)
