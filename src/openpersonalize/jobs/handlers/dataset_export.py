"""Run a DatasetExportJob: the dataset's records (BULK, PUT or ALL of them) as CSV files with the
schema's columns, written atomically below the output folder as ``<jobName>_<n>.csv``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.output_locations import write_file
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import DataError, ResourceNotFound
from openpersonalize.jobs.runtime import JobRun

JOB_KIND = "dataset-export"
ROWS_PER_FILE = 1_000_000


def run(run: JobRun) -> dict[str, Any]:
    ctx, job = run.ctx, run.resource
    try:
        dataset = ctx.store.get(job.attrs["datasetArn"])
        table = read_dataset(
            ctx.store, ctx.interactions, job.attrs["datasetArn"], ingestion=job.attrs["ingestionMode"]
        )
    except ResourceNotFound as error:
        raise DataError(f"The dataset can no longer be read: {error}") from None
    assert dataset is not None
    schema = ctx.store.get(dataset.attrs["schemaArn"])
    columns = parse_schema(schema.attrs["schema"]).names if schema is not None else table.column_names
    table = table.select([c for c in columns if c in table.column_names])
    run.progress(0.3)
    location = job.attrs["jobOutput"]["s3DataDestination"]["path"]
    files = max(1, -(-table.num_rows // ROWS_PER_FILE))
    with tempfile.TemporaryDirectory(prefix="op-export-") as temp:
        path = Path(temp) / "part.csv"
        for index in range(files):
            _write_csv(table.slice(index * ROWS_PER_FILE, ROWS_PER_FILE), path)
            write_file(location, f"{job.name}_{index}.csv", path, ctx.settings)
            run.progress(0.3 + 0.7 * (index + 1) / files)
    return {}


def _write_csv(table: pa.Table, path: Path) -> None:
    # Lists (multi-valued categorical columns are stored as "a|b" strings already) and binary
    # columns do not occur in a Personalize schema; everything else writes as its text.
    pcsv.write_csv(table, path, pcsv.WriteOptions(include_header=True, quoting_style="needed"))
