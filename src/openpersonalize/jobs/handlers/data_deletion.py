"""Run a DataDeletionJob: the users listed in a CSV (one USER_ID column) lose every record in the
dataset group's datasets — interactions, action interactions and their Users rows (spec §18).

Records are removed physically: each Parquet part holding one of them is rewritten without it,
and the job waits until the users' records still in the event log have been compacted (they then
go the same way), so nothing of theirs stays in the data. Records written after the job started
are new data and stay. Models trained before keep what they learnt until the next training.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from openpersonalize.data.event_compaction import compact_event_log
from openpersonalize.data.locations import list_data_files, open_data_file
from openpersonalize.errors import DataError
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.store.interactions import BULK
from openpersonalize.store.metadata import Resource

JOB_KIND = "data-deletion"
MAX_BYTES = 100 << 20  # spec §19
WITH_USERS = ("INTERACTIONS", "USERS", "ACTION_INTERACTIONS")
WAIT_SECONDS = 1.0


def run(run: JobRun) -> dict[str, Any]:
    ctx, job = run.ctx, run.resource
    started = float(job.attrs.get("_started") or 0.0)
    if not started:  # a retried job (its worker died) keeps the first try's cut-off
        started = time.time()
        ctx.store.update(job.arn, attrs={"_started": started})
    users = _users(run)
    datasets = [d for d in ctx.store.list("dataset", dataset_group_arn=job.dataset_group_arn, limit=100).items
                if d.attrs.get("datasetType") in WITH_USERS]  # fmt: skip
    run.progress(0.05)
    _wait_for_event_log(run, datasets, users, started)
    for index, dataset in enumerate(datasets):
        _delete_from(run, dataset, users, started)
        run.progress(0.5 + 0.5 * (index + 1) / max(1, len(datasets)))
    current = ctx.store.get(job.arn)
    deleted = int((current.attrs if current else {}).get("_deleted", 0))
    if not deleted:
        listed = sorted(users.to_pylist())
        shown = ", ".join(listed[:5]) + (", ..." if len(listed) > 5 else "")
        raise DataError(
            f"None of the {len(users)} users listed ({shown}) has data in dataset group {job.dataset_group_arn}."
        )
    return {"numDeleted": deleted}


def _users(run: JobRun) -> pa.Array:
    ctx, location = run.ctx, run.resource.attrs["dataSource"]["dataLocation"]
    files = list_data_files(location, ctx.settings)
    if sum(f.size for f in files) > MAX_BYTES:
        raise DataError(f"The user list at {location} is larger than {MAX_BYTES >> 20} MB.")
    found: list[pa.ChunkedArray] = []
    for data_file in files:
        with open_data_file(location, data_file, ctx.settings) as path:
            try:
                table = pcsv.read_csv(
                    path, convert_options=pcsv.ConvertOptions(column_types={"USER_ID": pa.string()})
                )
            except pa.ArrowInvalid as error:
                raise DataError(
                    f"{data_file.name} is not a CSV file with a USER_ID column: {error}"
                ) from None
        if table.column_names != ["USER_ID"]:
            raise DataError(
                f"{data_file.name} must have a single column, USER_ID; its header is {', '.join(table.column_names)}."
            )
        found.append(table.column("USER_ID"))
    users = pc.unique(
        pa.chunked_array([c for column in found for c in column.chunks], pa.string()).drop_null()
    )
    if not len(users):
        raise DataError(f"The user list at {location} names no user.")
    return users


def _wait_for_event_log(run: JobRun, datasets: list[Resource], users: pa.Array, started: float) -> None:
    """Until none of the users' records written before the job are left in the event log."""
    ctx = run.ctx
    wanted = set(users.to_pylist())
    limit = ctx.settings.event_log_seal_seconds + ctx.settings.compaction_seconds + 60.0
    while True:
        compact_event_log(ctx.store, ctx.interactions)
        left = sum(1 for d in datasets for r in ctx.interactions.pending(d.attrs["_id"])
                   if r.get("USER_ID") in wanted and float(r.get("_at") or 0.0) <= started)  # fmt: skip
        if not left:
            return
        if time.time() - started > limit:
            raise DataError(
                f"{left} records of these users stayed in the event log; run the job again later."
            )
        run.progress(0.05 + 0.4 * min(1.0, (time.time() - started) / limit))
        time.sleep(WAIT_SECONDS)


def _delete_from(run: JobRun, dataset: Resource, users: pa.Array, started: float) -> None:
    """Rewrite the dataset's parts without the users' records, counting them in the job's
    ``_deleted`` as each part is swapped (a retried job goes on counting where it stopped)."""
    interactions, dataset_id = run.ctx.interactions, dataset.attrs["_id"]
    for part in interactions.parts(dataset_id):
        if part.source == BULK and part.written > started:
            continue  # imported after the job started: new data
        table = interactions.read_part(part)
        if "USER_ID" not in table.column_names:
            continue
        hit = pc.fill_null(pc.is_in(table.column("USER_ID"), value_set=users), False)
        if part.source != BULK and "_at" in table.column_names:
            hit = pc.and_(hit, pc.less_equal(pc.fill_null(table.column("_at"), 0.0), started))
        count = int(pc.sum(hit).as_py() or 0)
        if count and interactions.rewrite_part(
            dataset_id, part, table.filter(pc.invert(hit)), f"d{run.job.id}"
        ):
            run.ctx.store.update(run.resource.arn, modify=functools.partial(_add_deleted, count))


def _add_deleted(count: int, job: Resource) -> None:
    job.attrs["_deleted"] = int(job.attrs.get("_deleted", 0)) + count
