"""Import rate: parse an interactions CSV with ``read_csv`` and write it as Parquet (zstd).

    PYTHONPATH=src .venv/bin/python benchmarks/import_rate.py --rows 5000000

Generates a realistic interactions file (USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP; Zipf-like item
popularity, a few heavy users, time-ordered) in a temp dir, then times the import in a fresh child
process so its peak RSS is the import's alone (not the generator's).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from openpersonalize.data.csv_import import read_csv
from openpersonalize.data.fields import ParsedSchema, SchemaField

INTERACTIONS = ParsedSchema(
    "Interactions",
    (
        SchemaField("USER_ID", "string"),
        SchemaField("ITEM_ID", "string"),
        SchemaField("EVENT_TYPE", "string"),
        SchemaField("TIMESTAMP", "long"),
    ),
)
EVENT_TYPES = ["view", "click", "add_to_cart", "purchase"]
EVENT_WEIGHTS = [0.6, 0.3, 0.07, 0.03]


def generate(path: Path, rows: int, seed: int, chunk_rows: int = 1_000_000) -> None:
    """Write ``rows`` interactions; ids look like real exports (prefix + number)."""
    rng = np.random.default_rng(seed)
    n_users, n_items = max(rows // 25, 1), max(rows // 100, 1)
    start = 1_700_000_000
    span = 90 * 24 * 3600
    with path.open("wb") as out:
        out.write(b"USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n")
        for first in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - first)
            users = (rng.pareto(1.5, n) * n_users / 20).astype(np.int64) % n_users
            items = np.minimum(rng.zipf(1.2, n), n_items)
            events = rng.choice(len(EVENT_TYPES), n, p=EVENT_WEIGHTS)
            stamps = start + (first + np.sort(rng.integers(0, chunk_rows, n))) * span // rows
            chunk = pa.table(
                {
                    "USER_ID": pc.binary_join_element_wise("user-", pa.array(users.astype(str)), ""),
                    "ITEM_ID": pc.binary_join_element_wise("sku-", pa.array(items.astype(str)), ""),
                    "EVENT_TYPE": pa.array(np.array(EVENT_TYPES)[events]),
                    "TIMESTAMP": pa.array(stamps),
                }
            )
            pa_csv.write_csv(chunk, out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))


def run_import(csv_path: str, parquet_path: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    started = time.perf_counter()
    table = read_csv(Path(csv_path), INTERACTIONS, file_name=Path(csv_path).name)
    parsed = time.perf_counter()
    pq.write_table(table, parquet_path, compression="zstd")
    written = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    results.put((table.num_rows, parsed - started, written - parsed, peak_kib * 1024))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="op-import-rate-") as tmp:
        csv_path, parquet_path = Path(tmp) / "interactions.csv", Path(tmp) / "interactions.parquet"
        began = time.perf_counter()
        generate(csv_path, args.rows, args.seed)
        generated = time.perf_counter() - began

        results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
        child = multiprocessing.get_context("spawn").Process(
            target=run_import, args=(str(csv_path), str(parquet_path), results)
        )
        child.start()
        rows, parse_s, write_s, peak_rss = results.get()
        child.join()

        csv_mib = csv_path.stat().st_size / 2**20
        parquet_mib = parquet_path.stat().st_size / 2**20
        total_s = parse_s + write_s
        print(f"import rate: {rows:,} interactions, {csv_mib:.0f} MiB CSV, {os.cpu_count()} cores")
        print(f"(generated in {generated:.1f}s; parquet {parquet_mib:.0f} MiB zstd)\n")
        print(f"{'stage':<22}{'seconds':>9}{'rows/s':>14}{'MiB/s':>9}")
        for stage, seconds in (("read_csv", parse_s), ("write parquet (zstd)", write_s), ("total", total_s)):
            print(f"{stage:<22}{seconds:>9.2f}{rows / seconds:>14,.0f}{csv_mib / seconds:>9.0f}")
        print(f"\npeak RSS of the import process: {peak_rss / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
