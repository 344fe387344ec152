"""GET /recommendations (the plain REST endpoint) against GetRecommendations, on ML-100k.

Trains and deploys an aws-user-personalization campaign, then in the same run:
1. GetRecommendations (POST, boto3's body) and GET /recommendations at a fixed rate (default
   500 req/s) with the REST cache off: p99 of each, and their ratio (target <= 1.5x);
2. peak throughput of GET /recommendations for a small set of repeated users, cache off and then
   on (a second server on the same data with OPENPERSONALIZE_REST_CACHE_SECONDS=60): ratio
   (target >= 5x).

    PYTHONPATH=src .venv/bin/python benchmarks/rest_latency.py [--rate 500 --seconds 20]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

import common
import psutil
import recommend_latency as rl
import serving_common as sc

TARGET_P99_RATIO = 1.5
TARGET_CACHE_SPEEDUP = 5.0


def rest_requests(campaign: rl.Campaign, users: list[str], count: int = 4096) -> list[sc.Request]:
    rng = random.Random(13)
    paths = [
        "/recommendations?"
        + urlencode({"user_id": rng.choice(users), "campaign": campaign.arn, "num_results": 25})
        for _ in range(count)
    ]
    return [sc.Request("GET", path, "") for path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--peak-seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--repeated-users", type=int, default=100, help="users of the cache runs")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    if args.loadgen == "auto":
        args.loadgen = "wrk" if sc.have_wrk() else "python"
    print(f"machine: {common.machine()}; load generator {args.loadgen}")
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="op-bench-rest-") as tmp,
        ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
    ):
        data = Path(tmp) / "data"
        with common.running_server(data, workers=1, settings={"rest_cache_seconds": "0"}) as server:
            personalize = common.client("personalize", server.url)
            campaign = rl.deploy_ml100k(personalize, Path(tmp))
            family = rl.ServerFamily(psutil.Process(server.proc.pid))
            aws = rl.recommendation_requests(campaign, 0.8)
            rest = rest_requests(campaign, campaign.known_users)
            rl.warm_up(server.url, aws)
            results.append(
                rl.measure(pool, family, server.url, "GetRecommendations, fixed rate", "rate", aws, args)
            )
            results.append(
                rl.measure(
                    pool, family, server.url, "GET /recommendations, fixed rate, no cache", "rate", rest, args
                )
            )
            repeated = rest_requests(campaign, campaign.known_users[: args.repeated_users])
            results.append(
                rl.measure(
                    pool, family, server.url, "GET /recommendations, peak, no cache", "peak", repeated, args
                )
            )
        with common.running_server(data, workers=1, settings={"rest_cache_seconds": "60"}) as server:
            family = rl.ServerFamily(psutil.Process(server.proc.pid))
            rl.warm_up(server.url, aws)
            results.append(
                rl.measure(
                    pool, family, server.url, "GET /recommendations, peak, cache on", "peak", repeated, args
                )
            )
    headers = ["run", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "server CPU us/req"]
    sc.print_table(headers, [sc.measurement_cells(r) for r in results])
    ratio = results[1].p99_ms / results[0].p99_ms
    speedup = results[3].rate / results[2].rate
    print(f"REST p99 / GetRecommendations p99 at {args.rate:.0f} req/s: {ratio:.2f}x "
          f"(target <= {TARGET_P99_RATIO}x: {'met' if ratio <= TARGET_P99_RATIO else 'MISSED'})")  # fmt: skip
    print(f"peak with the cache / without, {args.repeated_users} repeated users: {speedup:.1f}x "
          f"(target >= {TARGET_CACHE_SPEEDUP}x: {'met' if speedup >= TARGET_CACHE_SPEEDUP else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
