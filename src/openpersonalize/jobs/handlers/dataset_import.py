"""Run a DatasetImportJob: CSV files at dataLocation -> Parquet parts of the dataset."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pyarrow as pa

from openpersonalize.data.csv_import import read_csv
from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.locations import DataFile, list_data_files, open_data_file
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import DataError
from openpersonalize.jobs import attribution_report
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.store.interactions import BULK, Part

JOB_KIND = "dataset-import"


def run(run: JobRun) -> dict[str, Any]:
    ctx, job = run.ctx, run.resource
    dataset = ctx.store.get(job.attrs["datasetArn"])
    if dataset is None:
        raise DataError(f"The dataset {job.attrs['datasetArn']} was deleted before the import ran.")
    schema_res = ctx.store.get(dataset.attrs["schemaArn"])
    if schema_res is None:
        raise DataError(f"The schema {dataset.attrs['schemaArn']} of the dataset no longer exists.")
    schema = parse_schema(schema_res.attrs["schema"])
    location = job.attrs["dataSource"]["dataLocation"]
    files = list_data_files(location, ctx.settings)
    total_bytes = sum(f.size for f in files) or 1
    dataset_id = dataset.attrs["_id"]
    parts: list[Part] = []
    done_bytes = 0
    try:
        for index, data_file in enumerate(files):
            table = _read(location, data_file, schema, run)
            if table.num_rows:
                key = ctx.interactions.write_bulk_part(dataset_id, job.name or "import", index, table)
                parts.append(Part(key, BULK, table.num_rows, 0.0, 0.0, 0.0, job.arn))
            done_bytes += data_file.size
            run.progress(done_bytes / total_bytes)
    except BaseException:
        ctx.interactions.discard(part.key for part in parts)  # nothing of a failed import stays
        raise
    rows = sum(part.rows for part in parts)
    minimum = ctx.settings.min_import_interactions
    if dataset.attrs["datasetType"] == "INTERACTIONS" and rows < minimum:
        ctx.interactions.discard(part.key for part in parts)
        raise DataError(
            f"The import has {rows} interaction records; an interactions import job needs at least {minimum}."
        )
    try:  # metric attribution first: an unwritable report fails the import, which then adds nothing
        measured = attribution_report.report(
            run, dataset, lambda: pa.concat_tables([ctx.interactions.read_part(p) for p in parts])
        )
    except BaseException:
        ctx.interactions.discard(part.key for part in parts)
        raise
    now = time.time()  # every part of one import counts as written now
    parts = [dataclasses.replace(p, written=now, first_at=now, last_at=now) for p in parts]
    replace = run.resource.attrs.get("importMode", "FULL") == "FULL"
    ctx.interactions.publish_bulk(dataset_id, parts, replace=replace)
    ctx.series.add(measured)  # counted once the data is in
    if ctx.store.get(dataset.arn) is None:
        ctx.interactions.drop_dataset(dataset_id)
        raise DataError(f"The dataset {dataset.arn} was deleted while the import ran.")
    return {}


def _read(location: str, data_file: DataFile, schema: ParsedSchema, run: JobRun) -> pa.Table:
    try:
        with open_data_file(location, data_file, run.ctx.settings) as source:
            return read_csv(source, schema, file_name=data_file.name)
    except OSError as exc:  # unreadable: permissions, a vanished file; no retry changes that
        raise DataError(f"{data_file.name} cannot be read: {exc.strerror or exc}.") from None
