"""GetRecommendations latency and throughput over HTTP, for ML-100k and a 100,000-item catalogue.

Starts `openpersonalize serve --workers 1`, trains and deploys an aws-user-personalization
campaign per catalogue (ML-100k takes the EASE path; the synthetic 100k-item one the item-kNN
path), then drives POST /recommendations with the JSON body boto3 sends (random known and
unknown users, numResults=25) from a separate process:

1. open loop at a fixed rate (default 500 req/s), latency measured per request;
2. closed loop at peak (default 48 connections), with `wrk` when it is installed;
3. the same peak measurement against GET /health, the server's no-op baseline.

    PYTHONPATH=src .venv/bin/python benchmarks/recommend_latency.py [--synthetic-interactions 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import common
import httpx
import psutil
import serving_common as sc

TARGET_P99_MS = 10.0
TARGET_RATE = 500.0  # the rate the p99 target is set at
TARGET_PEAK_RPS = 2_000.0
RECIPE = "aws-user-personalization"


@dataclass(frozen=True)
class Campaign:
    label: str
    arn: str
    known_users: list[str]


def deploy_ml100k(personalize: Any, tmp: Path) -> Campaign:
    folder = sc.ml100k_dir()
    csv_path = tmp / "ml-100k.csv"
    sc.write_ml100k_csv(folder, csv_path)
    users = sorted({line.split("\t", 1)[0] for line in (folder / "u.data").open()}, key=int)
    return _deploy(personalize, "ml-100k", csv_path, users)


def deploy_synthetic(personalize: Any, tmp: Path, users: int, items: int, interactions: int) -> Campaign:
    csv_path = tmp / "synthetic.csv"
    started = time.perf_counter()
    rows = sc.write_zipf_csv(csv_path, users=users, items=items, interactions=interactions)
    print(
        f"synthetic catalogue: {rows:,} interactions, {users:,} users, {items:,} items "
        f"(generated in {time.perf_counter() - started:.1f}s)"
    )
    return _deploy(personalize, f"synthetic-{items // 1000}k", csv_path, [f"u{u}" for u in range(users)])


def _deploy(personalize: Any, label: str, csv_path: Path, users: list[str]) -> Campaign:
    group, dataset = common.create_interactions_dataset(personalize, label)
    import_seconds = sc.import_csv(personalize, dataset, csv_path, label)
    trained = sc.train(personalize, group, RECIPE, label)
    campaign = sc.deploy(personalize, trained.version_arn, label)
    print(
        f"{label}: import {import_seconds:.1f}s, train {trained.seconds:.1f}s "
        f"(job {trained.training_hours * 3600:.1f}s), deployed"
    )
    return Campaign(label, campaign, users)


def recommendation_requests(campaign: Campaign, known_fraction: float, count: int = 4096) -> list[sc.Request]:
    """boto3-shaped GetRecommendations bodies: known users and never-seen ones, numResults=25."""
    rng = random.Random(11)
    requests = []
    for n in range(count):
        known = rng.random() < known_fraction
        user = rng.choice(campaign.known_users) if known else f"new-user-{n}"
        body = json.dumps({"campaignArn": campaign.arn, "userId": user, "numResults": 25})
        requests.append(sc.Request("POST", "/recommendations", body))
    return requests


def warm_up(url: str, requests: list[sc.Request]) -> None:
    """Load the model into the server and check the answers look right before timing anything."""
    with httpx.Client(base_url=url, timeout=120) as client:
        for request in requests[:200]:
            response = client.post(
                request.path, content=request.body, headers={"Content-Type": "application/json"}
            )
            response.raise_for_status()
            if len(response.json()["itemList"]) != 25:
                raise RuntimeError(f"expected 25 recommendations, got {response.text[:200]}")


def measure(
    pool: ProcessPoolExecutor,
    server: ServerFamily,
    url: str,
    label: str,
    mode: str,
    requests: list[sc.Request],
    args: argparse.Namespace,
) -> sc.Measurement:
    before = server.cpu_seconds()
    if mode == "rate":
        result = pool.submit(sc.open_loop, url, requests, args.rate, args.seconds).result()
    elif args.loadgen == "wrk":
        result = sc.wrk_closed_loop(url, requests, args.concurrency, args.peak_seconds)
    else:
        result = pool.submit(sc.closed_loop, url, requests, args.concurrency, args.peak_seconds).result()
    result.server_cpu = server.cpu_seconds() - before
    result.label = label
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="fixed request rate (req/s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the fixed-rate run")
    parser.add_argument("--peak-seconds", type=float, default=15.0, help="length of each peak run")
    parser.add_argument("--concurrency", type=int, default=48, help="connections in the peak runs")
    parser.add_argument("--known-fraction", type=float, default=0.8, help="share of requests for known users")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--catalogues", default="ml-100k,synthetic", help="ml-100k and/or synthetic")
    parser.add_argument("--synthetic-users", type=int, default=50_000)
    parser.add_argument("--synthetic-items", type=int, default=100_000)
    parser.add_argument("--synthetic-interactions", type=int, default=1_000_000)
    parser.add_argument("--processes", default="1", help="server processes, e.g. 1,2 to compare in one run")
    args = parser.parse_args()
    if args.loadgen == "auto":
        args.loadgen = "wrk" if sc.have_wrk() else "python"
    catalogues = {c.strip() for c in args.catalogues.split(",")}
    print(
        f"machine: {common.machine()}; load average {os.getloadavg()[0]:.1f}; peak load generator: {args.loadgen}"
    )
    results: list[sc.Measurement] = []
    for processes in [int(n) for n in args.processes.split(",")]:
        suffix = f", {processes} process{'es' if processes > 1 else ''}" if "," in args.processes else ""
        results += measure_server(args, catalogues, processes, suffix)
    report(results, args)


def measure_server(
    args: argparse.Namespace, catalogues: set[str], processes: int, suffix: str
) -> list[sc.Measurement]:
    """Every run against one `serve --processes N`."""
    results: list[sc.Measurement] = []
    with (
        tempfile.TemporaryDirectory(prefix="op-bench-recs-") as tmp,
        common.running_server(Path(tmp) / "data", workers=1, processes=processes) as server,
        ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
    ):
        personalize = common.client("personalize", server.url)
        campaigns = []
        if "ml-100k" in catalogues:
            campaigns.append(deploy_ml100k(personalize, Path(tmp)))
        if "synthetic" in catalogues:
            campaigns.append(
                deploy_synthetic(
                    personalize,
                    Path(tmp),
                    args.synthetic_users,
                    args.synthetic_items,
                    args.synthetic_interactions,
                )
            )
        family = ServerFamily(psutil.Process(server.proc.pid))
        pool.submit(sc.ping).result()  # start the load-generator process before timing
        for campaign in campaigns:
            requests = recommendation_requests(campaign, args.known_fraction)
            warm_up(server.url, requests)
            label = f"{campaign.label}{suffix}"
            results.append(
                measure(pool, family, server.url, f"{label} @ {args.rate:.0f}/s", "rate", requests, args)
            )
            results.append(measure(pool, family, server.url, f"{label} peak", "peak", requests, args))
        health = [sc.Request("GET", "/health", "")]
        results.append(measure(pool, family, server.url, f"GET /health peak{suffix}", "peak", health, args))
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return results


class ServerFamily:
    """`serve` and the processes it started (more servers, the worker): their CPU together."""

    def __init__(self, parent: psutil.Process) -> None:
        self.processes = [parent, *parent.children()]

    def cpu_seconds(self) -> float:
        return sum(common.cpu_seconds(p) for p in self.processes if p.is_running())


def report(results: list[sc.Measurement], args: argparse.Namespace) -> None:
    rows = []
    for r in results:
        rows.append([*sc.measurement_cells(r), f"{r.client_cpu:.1f}"])
    print()
    for r in results:
        if r.failures:
            print(f"failures in {r.label}: " + ", ".join(f"{k} x{v}" for k, v in r.failures.items()))
    sc.print_table(
        [
            "run",
            "requests",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "server CPU us/req",
            "client CPU s",
        ],
        rows,
    )
    healths = [r for r in results if r.label.startswith("GET /health")]
    print(
        f"\ntargets: p99 <= {TARGET_P99_MS:.0f} ms at {TARGET_RATE:.0f} req/s; >= {TARGET_PEAK_RPS:,.0f} req/s peak"
    )
    for r in results:
        if r.label.endswith("/s"):
            verdict = "met" if r.p99_ms <= TARGET_P99_MS and not r.errors else "MISSED"
            if args.rate != TARGET_RATE:
                verdict = f"(the target is set at {TARGET_RATE:.0f} req/s)"
            print(f"  {r.label}: p99 {r.p99_ms:.2f} ms (from schedule {r.p99_sched_ms:.2f} ms) -> {verdict}")
        elif r not in healths:
            # The no-op route of the same server (the same number of processes).
            processes = r.label.removesuffix(" peak").partition(",")[2]
            health = next(h for h in healths if h.label.partition(",")[2] == processes)
            verdict = "met" if r.rate >= TARGET_PEAK_RPS else "MISSED"
            print(
                f"  {r.label}: {r.rate:,.0f} req/s = {r.rate / health.rate:.0%} of /health "
                f"({health.rate:,.0f} req/s) -> {verdict}"
            )


if __name__ == "__main__":
    main()
