"""PutEvents throughput over HTTP: boto3-shaped batches of 10 events, durable (fsync'd) writes.

Starts `openpersonalize serve` (embedded default, no worker) on a free port, creates a dataset
group, an Interactions dataset and an event tracker with boto3, then drives POST /events with
the exact JSON body boto3 sends, from asyncio clients in a separate process.

    PYTHONPATH=src .venv/bin/python benchmarks/put_events_http.py --seconds 20 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx

SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": "src", "OPENPERSONALIZE_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "openpersonalize", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    proc = subprocess.Popen([*cmd, "--workers", "0"], env=env, start_new_session=True)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def setup(url: str) -> str:
    client = boto3.client(
        "personalize",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    group = client.create_dataset_group(name="bench")["datasetGroupArn"]
    schema = client.create_schema(name="bench", schema=json.dumps(SCHEMA))["schemaArn"]
    client.create_dataset(name="bench", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")
    return str(client.create_event_tracker(name="bench", datasetGroupArn=group)["trackingId"])


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
                        {"eventType": "click", "itemId": f"i{rng.randrange(50_000)}", "sentAt": time.time()}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="op-bench-") as tmp:
        port = free_port()
        proc = start_server(Path(tmp), port)
        try:
            url = f"http://127.0.0.1:{port}"
            tracking_id = setup(url)
            started = time.perf_counter()
            sent, latencies = asyncio.run(drive(url, tracking_id, args.seconds, args.concurrency))
            elapsed = time.perf_counter() - started
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"events: {sent} in {elapsed:.1f}s -> {sent / elapsed:,.0f} events/s ({len(latencies) / elapsed:,.0f} req/s)"
    )
    print(f"latency per PutEvents call: p50 {p50:.2f} ms, p99 {p99:.2f} ms (concurrency {args.concurrency})")


if __name__ == "__main__":
    main()
