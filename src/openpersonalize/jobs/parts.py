"""A job split into parts that every worker can take: batch inference and batch segment jobs.

The job's own worker cuts the input files into parts of ``PART_LINES`` lines in the object store
(which every worker shares), queues one part job per part, takes parts itself while idle workers
take the others, and once all are done joins each input file's part outputs into one output file,
written atomically. A part job touches no resource status: its failure fails the whole job with
its reason. A retried job (its worker died) starts over, and the queued parts of the earlier try
are dropped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from threadpoolctl import threadpool_limits

from openpersonalize.data.locations import DataFile, list_data_files, open_data_file
from openpersonalize.data.output_locations import write_file
from openpersonalize.errors import DataError
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.store.metadata import Job

PART_LINES = 5_000
WAIT_SECONDS = 0.2
PROGRESS_SECONDS = 1.0


@dataclass(frozen=True)
class InputFile:
    output_name: str  # "<input file name>.out", relative to the output folder
    parts: list[dict[str, object]]  # part job payloads, in line order


def staging_prefix(run: JobRun) -> str:
    return f"batch/{run.job.id}/"


def stage(run: JobRun, location: str, max_files: int = 1000) -> list[InputFile]:
    """Cut every input file into parts in the object store (the first 5% of the progress)."""
    ctx, prefix = run.ctx, staging_prefix(run)
    files = list_data_files(location, ctx.settings)
    if len(files) > max_files:
        raise DataError(
            f"The input location holds {len(files)} files; a batch job reads at most {max_files}."
        )
    total = sum(f.size for f in files) or 1
    done, staged = 0, []
    for index, data_file in enumerate(files):
        parts = []
        with open_data_file(location, data_file, ctx.settings) as path:
            for number, chunk in enumerate(_chunks(path)):
                key = f"{prefix}in/{index:05d}/{number:05d}.jsonl"
                ctx.objects.put_bytes(key, b"".join(chunk))
                parts.append({"input": key, "output": f"{prefix}out/{index:05d}/{number:05d}.jsonl",
                              "lines": len(chunk), "attempt": run.job.attempts})  # fmt: skip
        staged.append(InputFile(_relative(location, data_file) + ".out", parts))
        done += data_file.size
        run.progress(0.05 * done / total)
    return staged


def run_parts(run: JobRun, kind: str, files: list[InputFile], do_part: Callable[[JobRun], None]) -> None:
    """Queue the parts, take them while others do too, and wait until every one is done."""
    ctx, arn = run.ctx, run.resource.arn
    for old in ctx.store.jobs_for(arn):  # parts left queued by an earlier try of this job
        if old.kind == kind and old.status == "queued":
            ctx.store.finish_job(old.id, error="superseded by a later try of the job")
    payloads = [p for f in files for p in f.parts]
    ids = {ctx.store.enqueue(Job(kind=kind, resource_arn=arn, payload=p)) for p in payloads}
    while True:
        part = ctx.store.claim_job(str(run.job.worker_id), time.time(), resource_arn=arn)
        if part is not None:
            if part.id in ids:
                _run_inline(run, part, do_part)
            else:  # cannot happen after the clean-up above, but must never stay claimed
                ctx.store.finish_job(part.id, error="superseded by a later try of the job")
            continue
        mine = {j.id: j for j in ctx.store.jobs_for(arn) if j.id in ids}
        _take_back_stale(run, mine.values())
        failed = [j for j in mine.values() if j.status == "failed"]
        if failed:
            raise DataError(failed[0].error or "A part of the job failed.")
        progress = sum((1.0 if j.status == "done" else j.progress or 0.0) for j in mine.values())
        run.progress(0.05 + 0.9 * progress / max(1, len(ids)))
        if all(j.status == "done" for j in mine.values()):
            return
        time.sleep(WAIT_SECONDS)


def join_outputs(run: JobRun, files: list[InputFile], location: str) -> list[str]:
    """Each input file's part outputs as one file at the output location (the last 5%)."""
    ctx, written = run.ctx, []
    with tempfile.TemporaryDirectory(prefix="op-batch-") as temp:
        joined, piece = Path(temp) / "joined", Path(temp) / "piece"
        for index, input_file in enumerate(files):
            with joined.open("wb") as out:
                for part in input_file.parts:
                    ctx.objects.get_file(str(part["output"]), piece)
                    out.write(piece.read_bytes())
            written.append(write_file(location, input_file.output_name, joined, ctx.settings))
            run.progress(0.95 + 0.05 * (index + 1) / len(files))
    ctx.objects.delete_prefix(staging_prefix(run))
    return written


def answer_part(run: JobRun, answer: Callable[[bytes], bytes], progress_every: int = 100) -> None:
    """A part job: each input line through ``answer``, the output lines stored for joining."""
    lines = run.ctx.objects.get_bytes(str(run.job.payload["input"])).splitlines()
    # One BLAS thread, as in a server: parts run side by side on every worker and core.
    with threadpool_limits(1), tempfile.TemporaryDirectory(prefix="op-part-") as temp:
        out_path = Path(temp) / "out.jsonl"
        with out_path.open("wb") as out:
            for number, text in enumerate(lines, 1):
                out.write(answer(text))
                if number % progress_every == 0:
                    run.progress(number / len(lines))
        run.ctx.objects.put_file(str(run.job.payload["output"]), out_path)
    run.progress(1.0)


def _take_back_stale(run: JobRun, parts: Iterable[Job]) -> None:
    """Parts whose worker stopped beating (killed, say) go back to the queue, or fail the job after
    their last attempt: this worker may be the only one left, busy here rather than recovering."""
    settings, now = run.ctx.settings, time.time()
    for part in parts:
        if (
            part.status != "running"
            or part.heartbeat is None
            or part.heartbeat >= now - settings.job_stale_seconds
        ):
            continue
        if part.attempts < settings.job_max_attempts:
            run.ctx.store.requeue_job(part.id, now)
        else:
            run.ctx.store.finish_job(part.id, error=f"Its worker stopped {part.attempts} times; giving up.")


def _run_inline(run: JobRun, part: Job, do_part: Callable[[JobRun], None]) -> None:
    ctx, worker = run.ctx, str(run.job.worker_id)
    last = [0.0]

    def progress(fraction: float) -> None:
        if time.time() - last[0] >= PROGRESS_SECONDS:  # a database write: not for every line
            last[0] = time.time()
            ctx.store.heartbeat(part.id, worker, last[0], fraction)

    try:
        do_part(JobRun(ctx, part, run.resource, progress))
    except DataError as error:
        ctx.store.finish_job(part.id, error=str(error))
        raise
    except BaseException as error:
        ctx.store.finish_job(part.id, error=f"{type(error).__name__}: {error}")
        raise
    ctx.store.finish_job(part.id)


def _chunks(path: Path) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    with path.open("rb") as source:
        for line in source:
            if not line.strip():
                continue
            chunk.append(line if line.endswith(b"\n") else line + b"\n")
            if len(chunk) == PART_LINES:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _relative(location: str, data_file: DataFile) -> str:
    """The file's path below a folder location, or its base name for a file location."""
    name = data_file.name
    if location.endswith("/"):
        base = location.partition("://")[2]
        base = base.partition("/")[2] if location.startswith("s3://") else base.removeprefix("/")
        stripped = name.removeprefix("/")
        if stripped.startswith(base.removeprefix("/")):
            return stripped[len(base.removeprefix("/")) :]
    return PurePosixPath(name).name
