"""Event log ingestion rate: concurrent writers appending PutEvents-sized batches with group commit.

    PYTHONPATH=src .venv/bin/python benchmarks/eventlog_rate.py --mode both --workers 32 --seconds 5

    PYTHONPATH=src .venv/bin/python benchmarks/eventlog_rate.py --workers 64 --rate 500   # the target load

Reports records/s, appends/s, fsyncs/s, records per fsync, p50/p99 append latency and the
process CPU time per record (the log shares the GIL and 2 cores with the HTTP server).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpersonalize.store.interactions.eventlog import EventLog


def make_batch(rng: random.Random, size: int) -> list[dict[str, Any]]:
    """Records shaped like the events PutEvents stores (one request's eventList)."""
    user, session = f"user-{rng.randrange(100_000)}", str(uuid.UUID(int=rng.getrandbits(128)))
    now = time.time()
    return [
        {
            "trackingId": "b6c2a3e0-6c2f-4c59-9d51-0d8a7f3c1e11",
            "userId": user,
            "sessionId": session,
            "eventId": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventType": rng.choice(["click", "watch", "purchase"]),
            "eventValue": round(rng.random() * 5, 2),
            "itemId": f"item-{rng.randrange(50_000)}",
            "sentAt": now - rng.random() * 60,
            "properties": '{"numberOfRatings": "19", "device": "mobile"}',
            "impression": [f"item-{rng.randrange(50_000)}" for _ in range(3)],
        }
        for _ in range(size)
    ]


def batches(index: int, size: int) -> list[list[dict[str, Any]]]:
    """Prebuilt batches, so the CPU figure measures the log rather than the data generator."""
    rng = random.Random(index)
    return [make_batch(rng, size) for _ in range(32)]


def interval(args: argparse.Namespace) -> float:
    """Seconds between one worker's appends: 0 runs flat out, else the total --rate is shared."""
    return args.workers / args.rate if args.rate else 0.0


def run_threads(
    log: EventLog, args: argparse.Namespace, pools: list[list[list[dict[str, Any]]]]
) -> list[float]:
    latencies: list[list[float]] = [[] for _ in range(args.workers)]
    start = time.perf_counter()
    deadline, gap = start + args.seconds, interval(args)

    def worker(index: int) -> None:
        own, pool = latencies[index], pools[index]
        next_at = start + gap * index / args.workers
        while (now := time.perf_counter()) < deadline:
            if next_at > now:
                time.sleep(next_at - now)
            next_at += gap
            started = time.perf_counter()
            log.append(pool[len(own) % len(pool)])
            own.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [x for own in latencies for x in own]


def run_asyncio(
    log: EventLog, args: argparse.Namespace, pools: list[list[list[dict[str, Any]]]]
) -> list[float]:
    latencies: list[float] = []
    gap = interval(args)

    async def worker(index: int, start: float) -> None:
        pool, done = pools[index], 0
        next_at = start + gap * index / args.workers
        while (now := time.perf_counter()) < start + args.seconds:
            if next_at > now:
                await asyncio.sleep(next_at - now)
            next_at += gap
            started = time.perf_counter()
            await log.append_async(pool[done % len(pool)])
            latencies.append(time.perf_counter() - started)
            done += 1

    async def main() -> None:
        start = time.perf_counter()
        await asyncio.gather(*(worker(i, start) for i in range(args.workers)))

    asyncio.run(main())
    return latencies


def measure(mode: str, run: Callable[..., list[float]], args: argparse.Namespace, directory: Path) -> None:
    pools = [batches(index, args.batch) for index in range(args.workers)]
    with EventLog(directory / mode, fsync=not args.no_fsync) as log:
        before, cpu_before = log.stats, resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        latencies = run(log, args, pools)
        elapsed = time.perf_counter() - started
        after, cpu_after = log.stats, resource.getrusage(resource.RUSAGE_SELF)
    records = after.records - before.records
    fsyncs = after.fsyncs - before.fsyncs
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{mode:8} {records / elapsed:12,.0f} {(after.appends - before.appends) / elapsed:10,.0f}"
        f" {fsyncs / elapsed:9,.0f} {records / fsyncs if fsyncs else float('nan'):10.1f}"
        f" {cuts[49] * 1e3:8.2f} {cuts[98] * 1e3:8.2f} {cpu / records * 1e6:10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["threads", "asyncio", "both"], default="both")
    parser.add_argument("--workers", type=int, default=32, help="concurrent threads or asyncio tasks")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="total appends/s to offer (0: flat out)")
    parser.add_argument("--batch", type=int, default=10, help="records per append (PutEvents allows 10)")
    parser.add_argument("--dir", type=Path, help="log directory (default: a fresh temporary directory)")
    parser.add_argument("--no-fsync", action="store_true", help="skip fsync, to see the cost of durability")
    args = parser.parse_args()

    modes = {"threads": run_threads, "asyncio": run_asyncio}
    selected = list(modes) if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        offered = f"{args.rate:g} appends/s" if args.rate else "flat out"
        print(
            f"workers={args.workers} batch={args.batch} seconds={args.seconds} fsync={not args.no_fsync} {offered}"
        )
        print(
            f"{'mode':8} {'records/s':>12} {'appends/s':>10} {'fsyncs/s':>9} {'rec/fsync':>10}"
            f" {'p50 ms':>8} {'p99 ms':>8} {'cpu us/rec':>10}"
        )
        for mode in selected:
            measure(mode, modes[mode], args, Path(tmp))


if __name__ == "__main__":
    main()
