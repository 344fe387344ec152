"""End-to-end import: CreateDatasetImportJob over HTTP until Describe says ACTIVE.

    PYTHONPATH=src .venv/bin/python benchmarks/import_job.py --rows 5000000

Writes a realistic interactions CSV (USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP; ~100k users and ~50k
items, both Zipf-like, time-ordered) to a temp dir, starts `openpersonalize serve --workers 1`
there, creates a dataset group, schema and Interactions dataset with boto3, imports the file from
its file:// location and polls DescribeDatasetImportJob until ACTIVE. A 1,000-row import runs
first (untimed), so the measured job finds the worker started and its modules loaded.

Reports the wall time from the create call to ACTIVE (so it includes the worker's job polling,
status updates and the Parquet upload to the object store, not just parsing), and the peak RSS
of the worker process, sampled with psutil every --sample-ms.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import common
import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

EVENT_TYPES = ["view", "click", "add_to_cart", "purchase"]
EVENT_WEIGHTS = [0.6, 0.3, 0.07, 0.03]
SPAN_SECONDS = 90 * 24 * 3600
FIRST_TIMESTAMP = 1_700_000_000


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


def generate(path: Path, rows: int, users: int, items: int, seed: int, chunk_rows: int = 1_000_000) -> None:
    """Write ``rows`` interactions in chunks; ids look like real exports (prefix + number)."""
    rng = np.random.default_rng(seed)
    # Popularity rank -> id through a permutation, so the popular ids are not simply the small ones.
    user_ids = pc.take(
        pc.binary_join_element_wise("user-", pa.array(np.arange(users).astype(str)), ""),
        pa.array(rng.permutation(users)),
    )
    item_ids = pc.take(
        pc.binary_join_element_wise("sku-", pa.array(np.arange(items).astype(str)), ""),
        pa.array(rng.permutation(items)),
    )
    user_p, item_p = zipf_weights(users, 0.8), zipf_weights(items, 1.1)
    event_names = pa.array(EVENT_TYPES)
    with path.open("wb") as out:
        out.write(b"USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n")
        for first in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - first)
            offsets = np.sort(rng.integers(0, n, n)) + first  # time-ordered, like an export
            chunk = pa.table(
                {
                    "USER_ID": pc.take(user_ids, pa.array(rng.choice(users, n, p=user_p))),
                    "ITEM_ID": pc.take(item_ids, pa.array(rng.choice(items, n, p=item_p))),
                    "EVENT_TYPE": pc.take(
                        event_names, pa.array(rng.choice(len(EVENT_TYPES), n, p=EVENT_WEIGHTS))
                    ),
                    "TIMESTAMP": pa.array(FIRST_TIMESTAMP + offsets * SPAN_SECONDS // rows),
                }
            )
            pa_csv.write_csv(chunk, out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))


class RssSampler:
    """Samples the RSS of a server's worker children in a thread; keeps the maximum seen."""

    def __init__(self, server_pid: int, interval: float) -> None:
        self.server = psutil.Process(server_pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def workers(self) -> list[psutil.Process]:
        found = []
        for child in self.server.children(recursive=True):
            try:
                if "worker" in child.cmdline():
                    found.append(child)
            except psutil.Error:
                continue  # exited between listing and reading
        return found

    def current(self) -> int:
        """The largest RSS among the worker processes right now (bytes)."""
        largest = 0
        for proc in self.workers():
            try:
                largest = max(largest, proc.memory_info().rss)
            except psutil.Error:
                continue
        return largest

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def warm_up(personalize: Any, dataset_arn: str, directory: Path, poll: float) -> None:
    """Import a minimal file first, so the timed job finds a started worker with its modules loaded."""
    small = directory / "warm-up.csv"
    generate(small, 1_000, 100, 100, seed=0)
    run_import(personalize, dataset_arn, small, poll, job_name="bench-warm-up")


def run_import(
    personalize: Any, dataset_arn: str, csv_path: Path, poll: float, job_name: str = "bench-import"
) -> tuple[float, float]:
    """Create the job and poll until ACTIVE; returns (seconds to ACTIVE, seconds until IN_PROGRESS seen)."""
    started = time.perf_counter()
    job = personalize.create_dataset_import_job(
        jobName=job_name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": csv_path.resolve().as_uri()},
    )["datasetImportJobArn"]
    in_progress_at: float | None = None
    while True:
        described = personalize.describe_dataset_import_job(datasetImportJobArn=job)
        status = described["datasetImportJob"]["status"]
        now = time.perf_counter() - started
        if status == "CREATE IN_PROGRESS" and in_progress_at is None:
            in_progress_at = now
        if status == "ACTIVE":
            # A job finished between two polls was never seen IN_PROGRESS: count it all as running.
            return now, in_progress_at if in_progress_at is not None else 0.0
        if status == "CREATE FAILED":
            raise RuntimeError(f"import failed: {described['datasetImportJob'].get('failureReason')}")
        time.sleep(poll)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--poll-ms", type=float, default=50.0, help="DescribeDatasetImportJob interval")
    parser.add_argument("--sample-ms", type=float, default=50.0, help="worker RSS sampling interval")
    parser.add_argument("--dir", type=Path, help="parent of the temp dir (default: the system temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="op-import-job-", dir=args.dir) as tmp:
        csv_path = Path(tmp) / "interactions.csv"
        began = time.perf_counter()
        generate(csv_path, args.rows, args.users, args.items, args.seed)
        generated = time.perf_counter() - began
        data_dir = Path(tmp) / "data"
        with common.running_server(data_dir, workers=1) as server:
            personalize = common.client("personalize", server.url)
            _, dataset_arn = common.create_interactions_dataset(personalize)
            warm_up(personalize, dataset_arn, Path(tmp), args.poll_ms / 1000)
            sampler = RssSampler(server.proc.pid, args.sample_ms / 1000)
            if not sampler.workers():
                raise RuntimeError("the server has no worker process to measure")
            idle_rss = sampler.current()
            with sampler:
                seconds, queued = run_import(personalize, dataset_arn, csv_path, args.poll_ms / 1000)
        parquet_bytes = sum(p.stat().st_size for p in (data_dir / "objects").rglob("*.parquet"))
        csv_mib = csv_path.stat().st_size / 2**20

    print(f"end-to-end import job: {common.machine()}")
    print(f"(CSV generated in {generated:.1f}s; {args.users:,} users, {args.items:,} items)\n")
    rows_per_s = args.rows / seconds
    table = [
        ("rows", f"{args.rows:,}"),
        ("CSV", f"{csv_mib:,.0f} MiB"),
        ("Parquet stored (zstd)", f"{parquet_bytes / 2**20:,.0f} MiB"),
        ("create -> ACTIVE", f"{seconds:.2f} s"),
        ("  of which until IN_PROGRESS seen", f"{queued:.2f} s"),
        ("rows/s", f"{rows_per_s:,.0f}"),
        ("CSV MiB/s", f"{csv_mib / seconds:,.0f}"),
        ("worker RSS before (warm)", f"{idle_rss / 2**20:,.0f} MiB"),
        ("worker RSS peak", f"{sampler.peak / 2**20:,.0f} MiB ({sampler.samples} samples)"),
    ]
    width = max(len(name) for name, _ in table) + 2
    for name, value in table:
        print(f"{name:<{width}}{value:>22}")
    print(f"\ntarget >= 1,000,000 rows/s: {'met' if rows_per_s >= 1_000_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
