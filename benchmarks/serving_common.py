"""Helpers shared by the training and serving benchmarks: data sets, the train -> deploy loop,
stats and an HTTP load generator.

Builds on `common.py` (server process, boto3 clients, Interactions schema). Scripts run as
`PYTHONPATH=src .venv/bin/python benchmarks/<name>.py`, so `import serving_common` works.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
import numpy as np

RECIPE_PREFIX = "arn:aws:personalize:::recipe/"
SETTLED = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
# ML-100k's timestamps are 1997-98; anything in that range is a valid Personalize TIMESTAMP.
SYNTHETIC_START = 1_600_000_000
# A load-generator request that takes longer than this counts as an error.
REQUEST_TIMEOUT = 10.0


# -- data --------------------------------------------------------------------------------------
def ml100k_dir() -> Path:
    """The ML-100k folder, or exit with a message saying where it was looked for."""
    folder = common.shared_data_dir() / "ml-100k"
    if not (folder / "u.data").is_file():
        sys.exit(
            f"ML-100k not found: {folder / 'u.data'} does not exist. Set OPENPERSONALIZE_SHARED_DATA "
            "to the folder that holds ml-100k/ (the default is <repo>/../shared/data)."
        )
    return folder


def write_ml100k_csv(folder: Path, dest: Path) -> int:
    """u.data (user, item, rating, timestamp; tab-separated) -> a Personalize interactions CSV."""
    rows = 0
    with (folder / "u.data").open() as src, dest.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
        for line in src:
            user, item, _rating, timestamp = line.split("\t")
            writer.writerow([user, item, "rating", timestamp.strip()])
            rows += 1
    return rows


def ml100k_genres(folder: Path) -> dict[str, set[int]]:
    """item id -> indices of its genres (the 19 flags at the end of each u.item line)."""
    genres: dict[str, set[int]] = {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        fields = line.split("|")
        if len(fields) >= 24:
            genres[fields[0]] = {i for i, flag in enumerate(fields[-19:]) if flag == "1"}
    return genres


ZIPF_CLUSTERS = 200  # taste clusters of the generated catalogue


def zipf_item_clusters(items: int, seed: int = 7) -> np.ndarray:
    """The cluster ``write_zipf_csv`` gives each item with the same ``seed`` (its first draw)."""
    return np.random.default_rng(seed).integers(0, ZIPF_CLUSTERS, items)


def write_zipf_csv(dest: Path, *, users: int, items: int, interactions: int, seed: int = 7) -> int:
    """A synthetic catalogue with Zipf(1.1)-like item popularity and some taste structure.

    Items fall into 200 clusters; each user has one favourite cluster and draws 70% of their
    events from it, 30% from the whole catalogue, both popularity-weighted, so item-kNN finds
    real neighbourhoods. Every user gets at least 3 events. Returns the number of rows written.
    """
    rng = np.random.default_rng(seed)
    clusters = ZIPF_CLUSTERS
    weight = 1.0 / np.arange(1, items + 1) ** 1.1
    item_cluster = rng.integers(0, clusters, items)  # the first draw: see zipf_item_clusters
    global_p = weight / weight.sum()
    per_user = np.maximum(3, rng.geometric(users / interactions, users))
    per_user = np.minimum(per_user, 2_000)
    taste = rng.integers(0, clusters, users)
    by_cluster = [np.flatnonzero(item_cluster == c) for c in range(clusters)]
    cluster_p = [weight[idx] / weight[idx].sum() for idx in by_cluster]
    user_col = np.repeat(np.arange(users), per_user)
    item_col = rng.choice(items, size=user_col.size, p=global_p)
    in_cluster = rng.random(user_col.size) < 0.7
    for c in range(clusters):
        rows = np.flatnonzero(in_cluster & (taste[user_col] == c))
        item_col[rows] = rng.choice(by_cluster[c], size=rows.size, p=cluster_p[c])
    timestamps = SYNTHETIC_START + np.arange(user_col.size)  # distinct, so no row is a duplicate
    with dest.open("w") as out:
        out.write("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n")
        out.writelines(
            f"u{u},i{i},click,{t}\n" for u, i, t in zip(user_col, item_col, timestamps, strict=True)
        )
    return int(user_col.size)


# -- the control-plane loop --------------------------------------------------------------------
def wait_until_settled(describe: Callable[[], dict[str, Any]], key: str, timeout: float) -> dict[str, Any]:
    """Poll a Describe call every 50 ms until ACTIVE / CREATE FAILED / CREATE STOPPED."""
    deadline = time.monotonic() + timeout
    while True:
        resource: dict[str, Any] = describe()[key]
        if resource["status"] in SETTLED:
            return resource
        if time.monotonic() > deadline:
            raise RuntimeError(f"{key} still {resource['status']} after {timeout:.0f}s")
        time.sleep(0.05)


def import_csv(personalize: Any, dataset_arn: str, path: Path, name: str, timeout: float = 600) -> float:
    """Run a FULL import of a local CSV; returns the seconds from Create… to ACTIVE."""
    started = time.perf_counter()
    job = personalize.create_dataset_import_job(
        jobName=name, datasetArn=dataset_arn, dataSource={"dataLocation": path.as_uri()}
    )["datasetImportJobArn"]
    done = wait_until_settled(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob", timeout
    )
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"import {name} ended {done['status']}: {done.get('failureReason')}")
    return time.perf_counter() - started


@dataclass(frozen=True)
class Trained:
    version_arn: str
    seconds: float  # CreateSolutionVersion -> ACTIVE, as a client sees it
    training_hours: float  # the server's own measure (the job handler's run time)


def train(personalize: Any, group_arn: str, recipe: str, name: str, timeout: float = 1800) -> Trained:
    """CreateSolution + CreateSolutionVersion for ``recipe`` (e.g. "aws-sims"), waited until ACTIVE."""
    solution = personalize.create_solution(
        name=name, datasetGroupArn=group_arn, recipeArn=RECIPE_PREFIX + recipe
    )["solutionArn"]
    started = time.perf_counter()
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_until_settled(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", timeout
    )
    seconds = time.perf_counter() - started
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"training {recipe} ended {done['status']}: {done.get('failureReason')}")
    return Trained(str(version), seconds, float(done.get("trainingHours", 0.0)))


def deploy(personalize: Any, version_arn: str, name: str, timeout: float = 120) -> str:
    campaign = personalize.create_campaign(name=name, solutionVersionArn=version_arn, minProvisionedTPS=1)[
        "campaignArn"
    ]
    done = wait_until_settled(
        lambda: personalize.describe_campaign(campaignArn=campaign), "campaign", timeout
    )
    if done["status"] != "ACTIVE":
        raise RuntimeError(f"campaign {name} ended {done['status']}: {done.get('failureReason')}")
    return str(campaign)


# -- numbers -----------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, int(np.ceil(fraction * len(sorted_values))) - 1))
    return float(sorted_values[rank])


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / max in milliseconds."""
    ordered = sorted(seconds)
    return {
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
    }


def measurement_cells(r: Measurement) -> list[object]:
    """A measurement's cells for the run tables: label, requests, req/s, p50, p99, max, errors,
    server CPU per request."""
    return [
        r.label,
        f"{r.requests:,}",
        f"{r.rate:,.0f}",
        f"{r.p50_ms:.2f}",
        f"{r.p99_ms:.2f}",
        f"{r.max_ms:.1f}",
        r.errors,
        f"{r.server_cpu / max(r.requests, 1) * 1e6:.0f}",
    ]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, so runs paste straight into RESULTS-serving.md."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


# -- load generation (runs in its own process; see recommend_latency.py) ----------------------
@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str


@dataclass
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    failures: dict[str, int]  # what went wrong -> how often: "HTTP 503", "TimeoutError", "read", ...
    client_cpu: float
    p99_sched_ms: float = 0.0  # open loop: p99 counted from each request's scheduled send time
    server_cpu: float = 0.0
    label: str = ""

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def raw_request(request: Request, host: str) -> bytes:
    """The HTTP/1.1 bytes for ``request`` (keep-alive), built once and resent as they are."""
    body = request.body.encode()
    head = f"{request.method} {request.path} HTTP/1.1\r\nHost: {host}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


# uvicorn closes keep-alive connections idle for 5 s; reusing one then would fail a request.
MAX_IDLE_SECONDS = 2.0


def _reusable(idle: list[tuple[float, _Connection]]) -> _Connection | None:
    """The most recently used idle connection; ones idle too long (all older than it) are closed."""
    if not idle:
        return None
    last_used, connection = idle.pop()
    if time.perf_counter() - last_used < MAX_IDLE_SECONDS:
        return connection
    for _, stale in idle:
        stale.close()
    idle.clear()
    connection.close()
    return None


class _Connection:
    """One keep-alive connection speaking just enough HTTP/1.1 for a load generator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def exchange(self, request: bytes) -> int:
        """Send a request, read the whole response; returns the status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


def _run(coroutine: Coroutine[Any, Any, Measurement]) -> Measurement:
    with contextlib.suppress(ImportError):
        import uvloop  # installed with uvicorn[standard]; halves the generator's own CPU

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def ping() -> None:
    """A no-op, to start a process pool's process before anything is timed."""


def open_loop(url: str, requests: Sequence[Request], rate: float, seconds: float) -> Measurement:
    """Send ``rate`` requests per second on schedule, whatever the latency (new connections as needed)."""
    return _run(_open_loop(url, requests, rate, seconds))


async def _open_loop(url: str, requests: Sequence[Request], rate: float, seconds: float) -> Measurement:
    host, port = _host_port(url)
    raw = [raw_request(r, f"{host}:{port}") for r in requests]
    loop = asyncio.get_running_loop()
    idle: list[tuple[float, _Connection]] = []  # (last used, connection), most recent last
    latencies: list[float] = []
    from_schedule: list[float] = []
    failures: Counter[str] = Counter()

    async def one(scheduled: float, request: bytes) -> None:
        connection = _reusable(idle)
        try:
            if connection is None:
                connection = await _Connection.open(host, port)
            sent = time.perf_counter()
            status = await asyncio.wait_for(connection.exchange(request), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            failures[type(exc).__name__] += 1
            if connection is not None:
                connection.close()
            return
        done = time.perf_counter()
        latencies.append(done - sent)
        from_schedule.append(done - scheduled)
        if status != 200:
            failures[f"HTTP {status}"] += 1
        idle.append((done, connection))

    cpu = time.process_time()
    start = time.perf_counter() + 0.1
    order = random.Random(3).sample(range(len(raw)), len(raw))
    tasks = []
    for n in range(int(rate * seconds)):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(scheduled, raw[order[n % len(order)]])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, connection in idle:
        connection.close()
    summary = latency_summary(latencies)
    return Measurement(
        len(latencies),
        elapsed,
        summary["p50_ms"],
        summary["p99_ms"],
        summary["max_ms"],
        dict(failures),
        time.process_time() - cpu,
        p99_sched_ms=latency_summary(from_schedule)["p99_ms"],
    )


def closed_loop(url: str, requests: Sequence[Request], concurrency: int, seconds: float) -> Measurement:
    """``concurrency`` connections, each sending its next request as soon as the last answer is in."""
    return _run(_closed_loop(url, requests, concurrency, seconds))


async def _closed_loop(
    url: str, requests: Sequence[Request], concurrency: int, seconds: float
) -> Measurement:
    host, port = _host_port(url)
    raw = [raw_request(r, f"{host}:{port}") for r in requests]
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    connections = [await _Connection.open(host, port) for _ in range(concurrency)]
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds

    async def client(connection: _Connection, seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                status = await asyncio.wait_for(
                    connection.exchange(raw[rng.randrange(len(raw))]), REQUEST_TIMEOUT
                )
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                failures[type(exc).__name__] += 1
                connection.close()
                connection = await _Connection.open(host, port)
                continue
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                failures[f"HTTP {status}"] += 1

    await asyncio.gather(*(client(c, n) for n, c in enumerate(connections)))
    elapsed = time.perf_counter() - start
    for connection in connections:
        connection.close()
    summary = latency_summary(latencies)
    return Measurement(
        len(latencies),
        elapsed,
        summary["p50_ms"],
        summary["p99_ms"],
        summary["max_ms"],
        dict(failures),
        time.process_time() - cpu,
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


# wrk calls request() for every request and done() once; done() prints one parseable line.
_WRK_ERRORS = ("connect", "read", "write", "HTTP status >= 400", "timeout")
_WRK_SCRIPT = """
local requests_ = {%s}
local method = "%s"
local prepared = {}
init = function(args)
  math.randomseed(os.time())
  local headers = {}
  if method == "POST" then headers["Content-Type"] = "application/json" end
  for i, r in ipairs(requests_) do
    prepared[i] = wrk.format(method, r[1], headers, r[2] ~= "" and r[2] or nil)
  end
end
request = function() return prepared[math.random(#prepared)] end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, " ..
    "\\"max_us\\": %%d, \\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, " ..
    "\\"HTTP status >= 400\\": %%d, \\"timeout\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_closed_loop(url: str, requests: Sequence[Request], concurrency: int, seconds: float) -> Measurement:
    """Peak throughput with wrk (one thread: the server needs the other core); same requests."""
    if len({r.method for r in requests}) != 1:
        raise ValueError("one wrk run sends one method")
    bodies = ",".join(f"{{[==[{r.path}]==], [==[{r.body}]==]}}" for r in requests)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (bodies, requests[0].method))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{seconds:.0f}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((line for line in out.splitlines() if line.startswith("WRK-RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    r = json.loads(line.removeprefix("WRK-RESULT "))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measurement(
        r["requests"],
        r["duration_us"] / 1e6,
        r["p50_us"] / 1000,
        r["p99_us"] / 1000,
        r["max_us"] / 1000,
        {kind: r[kind] for kind in _WRK_ERRORS if r[kind]},
        cpu,
    )


def _host_port(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 80
