"""Run a DatasetImportJob: CSV files at dataLocation -> Parquet parts of the dataset."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from openpersonalize.control.resources.dataset import data_prefix
from openpersonalize.data.csv_import import read_csv
from openpersonalize.data.locations import list_data_files, open_data_file
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import DataError
from openpersonalize.jobs.runtime import JobRun
from openpersonalize.store.metadata import Resource

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
    prefix = f"{data_prefix(dataset)}bulk/{job.name}/"
    keys: list[str] = []
    rows = done_bytes = 0
    with tempfile.TemporaryDirectory(prefix="openpersonalize-import-") as tmp:
        for index, data_file in enumerate(files):
            try:
                with open_data_file(location, data_file, ctx.settings) as source:
                    table = read_csv(source, schema, file_name=data_file.name)
            except OSError as exc:  # unreadable: permissions, a vanished file; no retry changes that
                raise DataError(f"{data_file.name} cannot be read: {exc.strerror or exc}.") from None
            if table.num_rows:
                part = Path(tmp) / f"part-{index:05d}.parquet"
                pq.write_table(table, part, compression="zstd")
                key = f"{prefix}part-{index:05d}.parquet"
                ctx.objects.put_file(key, part)
                part.unlink()
                keys.append(key)
                rows += table.num_rows
            done_bytes += data_file.size
            run.progress(done_bytes / total_bytes)
    minimum = ctx.settings.min_import_interactions
    if dataset.attrs["datasetType"] == "INTERACTIONS" and rows < minimum:
        _discard(run, keys)
        raise DataError(
            f"The import has {rows} interaction records; an interactions import job needs at least {minimum}."
        )
    _publish(run, dataset, {"job": job.arn, "keys": keys, "rows": rows, "at": time.time()})
    return {}


def _publish(run: JobRun, dataset: Resource, part_group: dict[str, Any]) -> None:
    """FULL replaces earlier bulk data; INCREMENTAL adds to it (readers take newest record per id)."""
    replaced: list[str] = []

    def modify(current: Resource) -> None:
        groups = list(current.attrs.get("_bulk") or [])
        if run.resource.attrs.get("importMode", "FULL") == "FULL":
            replaced.extend(key for group in groups for key in group["keys"])
            groups = []
        current.attrs["_bulk"] = [*groups, part_group]

    if run.ctx.store.update(dataset.arn, modify=modify) is None:
        _discard(run, part_group["keys"])
        raise DataError(f"The dataset {dataset.arn} was deleted while the import ran.")
    _discard(run, replaced)


def _discard(run: JobRun, keys: list[str]) -> None:
    for key in keys:
        run.ctx.objects.delete(key)
