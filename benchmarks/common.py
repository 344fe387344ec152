"""Shared helpers for the end-to-end benchmarks: a real `openpersonalize serve` and boto3 clients.

Scripts in this folder run as `PYTHONPATH=src .venv/bin/python benchmarks/<name>.py`, so Python puts
this folder on sys.path and `import common` works without making benchmarks a package.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
INTERACTIONS_SCHEMA: dict[str, Any] = {
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


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str


def shared_data_dir() -> Path:
    """The public datasets (../shared/data by default; OPENPERSONALIZE_SHARED_DATA overrides)."""
    default = REPO_ROOT.parent / "shared" / "data"
    return Path(os.environ.get("OPENPERSONALIZE_SHARED_DATA", default))


def start_server(
    data_dir: Path,
    *,
    workers: int,
    port: int | None = None,
    timeout: float = 30.0,
    processes: int = 1,
    metadata_url: str = "",
    object_url: str = "",
    settings: dict[str, str] | None = None,
) -> Server:
    """Start `openpersonalize serve` from this checkout in its own session; wait for /health.
    ``settings``: more of them, by name (``{"rest_cache_seconds": "0"}``)."""
    port = port or free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT / "src"),
        "OPENPERSONALIZE_LOG_LEVEL": "warning",
    }
    env.update({f"OPENPERSONALIZE_{k.upper()}": v for k, v in (settings or {}).items()})
    if metadata_url:
        env["OPENPERSONALIZE_METADATA_URL"] = metadata_url
    if object_url:
        env["OPENPERSONALIZE_OBJECT_URL"] = object_url
    cmd = [sys.executable, "-m", "openpersonalize", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--workers", str(workers), "--processes", str(processes)]
    # Benchmarks write their input files next to the data directory, and into shared/data.
    cmd += ["--file-roots", f"{data_dir.resolve().parent}:{shared_data_dir()}"]
    # Its own session, so stopping it also stops the worker processes it spawned.
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited during start-up (code {proc.returncode})")
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return Server(proc, url)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"the server did not answer /health within {timeout:.0f}s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def running_server(
    data_dir: Path,
    *,
    workers: int,
    processes: int = 1,
    metadata_url: str = "",
    object_url: str = "",
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    server = start_server(
        data_dir, workers=workers, processes=processes, metadata_url=metadata_url, object_url=object_url,
        settings=settings,
    )  # fmt: skip
    try:
        yield server
    finally:
        stop_server(server.proc)


def client(service: str, url: str) -> Any:
    """A boto3 client for one of our services; any credentials work."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def create_interactions_dataset(personalize: Any, name: str = "bench") -> tuple[str, str]:
    """A dataset group with an Interactions dataset; returns (dataset group ARN, dataset ARN)."""
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    schema = personalize.create_schema(name=name, schema=json.dumps(INTERACTIONS_SCHEMA))["schemaArn"]
    dataset = personalize.create_dataset(
        name=name, schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    return str(group), str(dataset)


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU time a process has used so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


def machine() -> str:
    """One line naming the machine, for the head of a benchmark's output."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    ram = ""
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f", {kib / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){ram}, Python {platform.python_version()}"


@contextlib.contextmanager
def durable_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with fsync and synchronous commit on (the tests' helper)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.fixtures.pgserver import start_postgres

    url, stop = start_postgres("openpersonalize_bench", durable=True)
    try:
        yield url
    finally:
        stop()
