"""Batch inference throughput: users per minute per worker, and what a second worker adds.

Generates Zipf-like interactions (``--users`` users, ``--items`` items), trains
aws-user-personalization through boto3, then runs CreateBatchInferenceJob over every user
(numResults 25) with `openpersonalize serve --workers 1` and again with `--workers 2` on the same
data. Prints the client-observed seconds from CreateBatchInferenceJob to ACTIVE, users per
minute, and the peak RSS of the largest worker process.

    PYTHONPATH=src .venv/bin/python benchmarks/batch_inference.py [--users 100000 --items 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import common
import import_job
import serving_common as sc

from openpersonalize.settings import Settings
from openpersonalize.store.metadata.sql import SqlMetadataStore

TARGET_PER_WORKER = 20_000  # users per minute per worker
ROLE = "arn:aws:iam::123456789012:role/bench"


def run_batch(personalize: object, version: str, source: Path, out: Path, name: str) -> float:
    started = time.perf_counter()
    arn = personalize.create_batch_inference_job(  # type: ignore[attr-defined]
        jobName=name,
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": source.as_uri()}},
        jobOutput={"s3DataDestination": {"path": out.as_uri() + "/"}},
        roleArn=ROLE,
    )["batchInferenceJobArn"]
    done = sc.wait_until_settled(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=arn),  # type: ignore[attr-defined]
        "batchInferenceJob",
        3600,
    )
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"batch job {name}: {done['status']} {done.get('failureReason', '')}")
    return time.perf_counter() - started


def parts_per_worker(data: Path, job_name: str) -> dict[str, int]:
    """How the job's parts were spread (read from the metadata database)."""
    store = SqlMetadataStore(Settings(data_dir=data).resolved_metadata_url, upgrade=False)
    arn = f"arn:aws:personalize:us-east-1:123456789012:batch-inference-job/{job_name}"
    spread = Counter(j.worker_id or "?" for j in store.jobs_for(arn) if j.kind.endswith("-part"))
    store.close()
    return dict(spread)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {common.machine()}; load average {os.getloadavg()[0]:.1f}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="op-bench-batch-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "interactions.csv"
        written = sc.write_zipf_csv(
            csv_path, users=args.users, items=args.items, interactions=args.interactions
        )
        source = folder / "users.json"
        source.write_text("".join(json.dumps({"userId": f"u{u}"}) + "\n" for u in range(args.users)))
        data = folder / "data"
        with common.running_server(data, workers=1) as server:
            personalize = common.client("personalize", server.url)
            group, dataset = common.create_interactions_dataset(personalize, "batch")
            sc.import_csv(personalize, dataset, csv_path, "batch")
            trained = sc.train(personalize, group, "aws-user-personalization", "up")
            print(f"{written:,} interactions; trained in {trained.seconds:.0f}s")
            version = trained.version_arn
        for workers in (1, 2):
            with common.running_server(data, workers=workers) as server:
                personalize = common.client("personalize", server.url)
                with import_job.RssSampler(server.proc.pid, 0.2) as rss:
                    seconds = run_batch(personalize, version, source, folder / f"out{workers}", f"w{workers}")
                print(f"{workers} worker(s): parts taken per worker {parts_per_worker(data, f'w{workers}')}")
                lines = sum(1 for _ in (folder / f"out{workers}" / "users.json.out").open())
                assert lines == args.users, f"{lines} output lines for {args.users} users"
                per_minute = args.users / seconds * 60
                verdict = ""
                if workers == 1:
                    verdict = f">= {TARGET_PER_WORKER:,}/min: {'met' if per_minute >= TARGET_PER_WORKER else 'MISSED'}"
                rows.append(
                    [workers, f"{seconds:.1f}", f"{per_minute:,.0f}", f"{rss.peak / 2**30:.2f}", verdict]
                )
    sc.print_table(
        ["workers", "seconds to ACTIVE", "users / minute", "peak worker RSS (GiB)", "target"], rows
    )
    if len(rows) == 2:
        print(f"speed-up with 2 workers: {float(rows[0][1]) / float(rows[1][1]):.2f}x")


if __name__ == "__main__":
    main()
