"""PutEvents throughput over HTTP: boto3-shaped batches of 10 events, durable writes.

Starts `openpersonalize serve` (no worker) on a free port, creates a dataset group, an
Interactions dataset and an event tracker with boto3, then drives POST /events with the exact
JSON body boto3 sends, from asyncio clients in a separate process. Two stores, one after the
other in the same run: embedded (SQLite + this machine's event log, fsync'd) and shared (events
committed to PostgreSQL with fsync and synchronous commit on, as a deployment across machines).

    PYTHONPATH=src .venv/bin/python benchmarks/put_events_http.py --seconds 20 --concurrency 32

``--attribution compare`` runs the embedded store twice, without and with a metric attribution
(two metrics, every event counted), and prints the server CPU per event of each and their ratio
(target: attribution adds at most 10%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import common
import httpx
import psutil

ATTRIBUTION_TARGET = 1.10  # server CPU per event, with / without


def setup(url: str, attribution: bool = False) -> str:
    personalize = common.client("personalize", url)
    group, _ = common.create_interactions_dataset(personalize)
    tracking = str(personalize.create_event_tracker(name="bench", datasetGroupArn=group)["trackingId"])
    if attribution:
        personalize.create_metric_attribution(
            name="bench",
            datasetGroupArn=group,
            metrics=[
                {"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
                {"eventType": "click", "metricName": "NEWEST", "expression": "SUM(INTERACTIONS.TIMESTAMP)"},
            ],
            metricsOutputConfig={"roleArn": "arn:aws:iam::123456789012:role/bench"},
        )
        time.sleep(1.5)  # the server re-reads metric attributions every second
    return tracking


async def drive(url: str, tracking_id: str, seconds: float, concurrency: int) -> tuple[int, list[float]]:
    latencies: list[float] = []
    sent = 0
    deadline = time.perf_counter() + seconds
    headers = {"Content-Type": "application/json"}

    async def client_loop(worker: int) -> None:
        nonlocal sent
        rng = random.Random(worker)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            while time.perf_counter() < deadline:
                user = f"u{rng.randrange(100_000)}"
                body = {
                    "trackingId": tracking_id,
                    "userId": user,
                    "sessionId": f"s-{user}",
                    "eventList": [
                        {
                            "eventType": "click",
                            "itemId": f"i{rng.randrange(50_000)}",
                            "sentAt": time.time(),
                        }
                        for _ in range(10)
                    ],
                }
                start = time.perf_counter()
                response = await client.post("/events", content=json.dumps(body), headers=headers)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(response.text)
                sent += 10

    await asyncio.gather(*(client_loop(i) for i in range(concurrency)))
    return sent, latencies


def measure(store: str, args: argparse.Namespace, metadata_url: str = "", attribution: bool = False) -> float:
    """Prints the run's figures; returns the server's CPU microseconds per event."""
    with (
        tempfile.TemporaryDirectory(prefix="op-bench-") as tmp,
        common.running_server(Path(tmp), workers=0, metadata_url=metadata_url) as server,
    ):
        tracking_id = setup(server.url, attribution)
        # Client and server share the machine's cores, so say how much CPU each side used.
        server_process, own_process = psutil.Process(server.proc.pid), psutil.Process()
        database = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        server_cpu, client_cpu = common.cpu_seconds(server_process), common.cpu_seconds(own_process)
        database_cpu = sum(common.cpu_seconds(p) for p in database)
        started = time.perf_counter()
        sent, latencies = asyncio.run(drive(server.url, tracking_id, args.seconds, args.concurrency))
        elapsed = time.perf_counter() - started
        server_cpu = common.cpu_seconds(server_process) - server_cpu
        client_cpu = common.cpu_seconds(own_process) - client_cpu
        database_cpu = sum(common.cpu_seconds(p) for p in database) - database_cpu
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(f"[{store}]")
    print(
        f"events: {sent} in {elapsed:.1f}s -> {sent / elapsed:,.0f} events/s ({len(latencies) / elapsed:,.0f} req/s)"
    )
    print(f"latency per PutEvents call: p50 {p50:.2f} ms, p99 {p99:.2f} ms (concurrency {args.concurrency})")
    print(
        f"CPU during the run: server {server_cpu:.1f}s ({server_cpu / sent * 1e6:.0f} us/event),"
        f" PostgreSQL {database_cpu:.1f}s, load generator {client_cpu:.1f}s, on {psutil.cpu_count()} cores"
    )
    return server_cpu / sent * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--store", choices=["embedded", "shared", "both"], default="both")
    parser.add_argument("--attribution", choices=["off", "on", "compare"], default="off")
    args = parser.parse_args()
    if args.attribution == "compare":
        plain = measure("embedded, no metric attribution", args)
        measured = measure("embedded, with a metric attribution", args, attribution=True)
        ratio = measured / plain
        verdict = "met" if ratio <= ATTRIBUTION_TARGET else "MISSED"
        print(
            f"metric attribution: {ratio:.3f}x server CPU per event (target <= {ATTRIBUTION_TARGET}x: {verdict})"
        )
        return
    if args.store in ("embedded", "both"):
        measure("embedded", args, attribution=args.attribution == "on")
    if args.store in ("shared", "both"):
        with common.durable_postgres() as url:
            measure("shared (PostgreSQL)", args, url)


if __name__ == "__main__":
    main()
