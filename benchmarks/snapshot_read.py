"""Training snapshot read time: everything acknowledged for a dataset, read as training reads it.

Imports a generated interactions CSV (10M rows by default) into a `serve` process, sends live
PutEvents on top, then times, in this process, what a training job does before it fits a model:
`read_dataset` (the parts from the manifest plus every event not compacted yet, deduplicated)
and `build_snapshot` (integer-coded arrays). Both stores, one after the other in the same run:
embedded (SQLite + this machine's event log) and shared (PostgreSQL with fsync on).

    PYTHONPATH=src .venv/bin/python benchmarks/snapshot_read.py --rows 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import common
import import_job
from put_events_http import drive

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.snapshot import build_snapshot
from openpersonalize.server import open_context
from openpersonalize.settings import Settings


def measure(store: str, csv_path: Path, args: argparse.Namespace, metadata_url: str = "") -> None:
    data_dir = csv_path.parent / f"data-{store.split()[0]}"  # next to the CSV: under the file roots
    with common.running_server(data_dir, workers=1, metadata_url=metadata_url) as server:
        personalize = common.client("personalize", server.url)
        group, dataset = common.create_interactions_dataset(personalize, "snapshot")
        started = time.perf_counter()
        import_job.run_import(personalize, dataset, csv_path, 0.1)
        imported = time.perf_counter() - started
        tracking = personalize.create_event_tracker(name="snap", datasetGroupArn=group)["trackingId"]
        events, _ = asyncio.run(drive(server.url, tracking, args.event_seconds, 32))
        settings = Settings(data_dir=data_dir, **({"metadata_url": metadata_url} if metadata_url else {}))
        ctx = open_context(settings)
        started = time.perf_counter()
        table = read_dataset(ctx.store, ctx.interactions, dataset)
        read = time.perf_counter() - started
        started = time.perf_counter()
        snapshot = build_snapshot(table)
        built = time.perf_counter() - started
        ctx.interactions.close()
        ctx.store.close()
    print(f"[{store}] import {imported:.1f}s; then {events:,} live events")
    print(
        f"  read_dataset: {table.num_rows:,} rows in {read:.1f}s ({table.num_rows / read:,.0f} rows/s); "
        f"build_snapshot: {built:.1f}s ({snapshot.n_users:,} users, {snapshot.n_items:,} items)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--event-seconds", type=float, default=10.0, help="how long live PutEvents run")
    parser.add_argument("--store", choices=["embedded", "shared", "both"], default="both")
    parser.add_argument("--dir", default=None, help="where the CSV and data go (default: the temp dir)")
    args = parser.parse_args()
    print(f"machine: {common.machine()}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="op-bench-snap-", dir=args.dir) as tmp:
        csv_path = Path(tmp) / "interactions.csv"
        import_job.generate(csv_path, args.rows, users=args.rows // 50, items=args.rows // 100, seed=1)
        if args.store in ("embedded", "both"):
            measure("embedded", csv_path, args)
        if args.store in ("shared", "both"):
            with common.durable_postgres() as url:
                measure("shared (PostgreSQL)", csv_path, args, url)


if __name__ == "__main__":
    main()
