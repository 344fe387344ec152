"""GET /recommendations (the plain REST endpoint) against GetRecommendations, on ML-100k.

Trains and deploys an aws-user-personalization campaign, warms both paths (the model, and the
Items metadata the REST answers carry), then in the same run:
1. GetRecommendations (POST, boto3's body) and GET /recommendations at a fixed rate (default
   500 req/s) with the REST cache off, alternated for --rounds rounds so that both see the same
   drift of a shared machine: p99 of each, their ratio per round, and the median ratio
   (target <= 1.5x);
2. peak throughput of GET /recommendations for a small set of repeated users, cache off and then
   on (a second server on the same data with OPENPERSONALIZE_REST_CACHE_SECONDS=60): ratio
   (target >= 5x).

    PYTHONPATH=src .venv/bin/python benchmarks/rest_latency.py [--rate 500 --seconds 20]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlencode

import common
import httpx
import psutil
import recommend_latency as rl
import serving_common as sc

TARGET_P99_RATIO = 1.5
TARGET_CACHE_SPEEDUP = 5.0


def rest_requests(campaign: rl.Campaign, users: list[str], count: int = 4096) -> list[sc.Request]:
    rng = random.Random(13)
    return rest_for(campaign, [rng.choice(users) for _ in range(count)])


def rest_for(campaign: rl.Campaign, users: list[str]) -> list[sc.Request]:
    """GET /recommendations for these users, in this order."""
    paths = [
        "/recommendations?" + urlencode({"user_id": user, "campaign": campaign.arn, "num_results": 25})
        for user in users
    ]
    return [sc.Request("GET", path, "") for path in paths]


def warm_up_rest(url: str, requests: list[sc.Request]) -> None:
    """The first answers load the Items metadata; GetRecommendations' warm-up loaded the model."""
    with httpx.Client(base_url=url, timeout=120) as client:
        for request in requests[:200]:
            response = client.get(request.path)
            response.raise_for_status()
            if len(response.json()) != 25:
                raise RuntimeError(f"expected 25 items, got {response.text[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=6.0, help="each fixed-rate run")
    parser.add_argument("--rounds", type=int, default=7, help="fixed-rate rounds of both paths")
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
            rest = rest_for(campaign, [json.loads(r.body)["userId"] for r in aws])  # the very same users
            rl.warm_up(server.url, aws)
            warm_up_rest(server.url, rest)
            for round_ in range(1, args.rounds + 1):
                for label, requests in (
                    ("GetRecommendations", aws),
                    ("GET /recommendations, no cache", rest),
                ):
                    name = f"{label}, fixed rate, round {round_}"
                    results.append(rl.measure(pool, family, server.url, name, "rate", requests, args))
            repeated = rest_requests(campaign, campaign.known_users[: args.repeated_users])
            results.append(
                rl.measure(
                    pool, family, server.url, "GET /recommendations, peak, no cache", "peak", repeated, args
                )
            )
        with common.running_server(data, workers=1, settings={"rest_cache_seconds": "60"}) as server:
            family = rl.ServerFamily(psutil.Process(server.proc.pid))
            rl.warm_up(server.url, aws)
            warm_up_rest(server.url, repeated)
            results.append(
                rl.measure(
                    pool, family, server.url, "GET /recommendations, peak, cache on", "peak", repeated, args
                )
            )
    headers = ["run", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "server CPU us/req"]
    sc.print_table(headers, [sc.measurement_cells(r) for r in results])
    fixed = results[: 2 * args.rounds]
    ratios = [rest.p99_ms / aws.p99_ms for aws, rest in zip(fixed[0::2], fixed[1::2], strict=True)]
    ratio = statistics.median(ratios)
    speedup = results[-1].rate / results[-2].rate
    print("REST p99 / GetRecommendations p99 per round: " + ", ".join(f"{r:.2f}x" for r in ratios))
    print(f"median of the rounds at {args.rate:.0f} req/s: {ratio:.2f}x "
          f"(target <= {TARGET_P99_RATIO}x: {'met' if ratio <= TARGET_P99_RATIO else 'MISSED'})")  # fmt: skip
    print(f"peak with the cache / without, {args.repeated_users} repeated users: {speedup:.1f}x "
          f"(target >= {TARGET_CACHE_SPEEDUP}x: {'met' if speedup >= TARGET_CACHE_SPEEDUP else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
