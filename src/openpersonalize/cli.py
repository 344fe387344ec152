"""Command line: `openpersonalize serve | worker | ...`."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from openpersonalize.settings import ENV_PREFIX, Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="A self-hosted Amazon Personalize.")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the embedded default keeps its data.")
]
MetadataUrl = Annotated[
    str | None,
    typer.Option("--metadata-url", help="e.g. postgresql+psycopg://user@host/db (default: SQLite)."),
]
ObjectUrl = Annotated[
    str | None, typer.Option("--object-url", help="e.g. s3://bucket/prefix (default: files).")
]
S3Endpoint = Annotated[str | None, typer.Option("--s3-endpoint-url", help="S3-compatible endpoint URL.")]
FileRootsOption = Annotated[
    str | None,
    typer.Option(
        "--file-roots",
        help="Folders file:// data locations may name, ':'-separated (default: the current directory).",
    ),
]


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env(**overrides)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    data_dir: DataDir = None,
    metadata_url: MetadataUrl = None,
    object_url: ObjectUrl = None,
    s3_endpoint_url: S3Endpoint = None,
    workers: Annotated[int | None, typer.Option(help="Job worker processes to start (0 = none).")] = None,
    credentials: Annotated[
        str | None,
        typer.Option(
            help="Require SigV4 signatures by these keys, each in its account: "
            "AKID:secret[:account][,AKID2:secret2[:account2]]."
        ),
    ] = None,
    file_roots: FileRootsOption = None,
) -> None:
    """Serve the personalize, personalize-events and personalize-runtime APIs on one port."""
    import uvicorn

    from openpersonalize.server import build_app

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        metadata_url=metadata_url,
        object_url=object_url,
        s3_endpoint_url=s3_endpoint_url,
        workers=workers,
        credentials=credentials,
        file_roots=file_roots,
    )
    _logging(settings.log_level)
    web = build_app(settings)  # migrates the metadata DB before any worker starts
    logging.getLogger("openpersonalize").info(
        "serving the Personalize APIs on http://%s:%s (metadata %s, objects %s, %d worker(s))",
        settings.host,
        settings.port,
        _redact(settings.resolved_metadata_url),
        settings.resolved_object_url,
        settings.workers,
    )
    supervisor = _WorkerSupervisor(settings)
    supervisor.start()
    try:
        uvicorn.run(
            web, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False
        )
    finally:
        supervisor.stop()


@app.command()
def worker(
    data_dir: DataDir = None,
    metadata_url: MetadataUrl = None,
    object_url: ObjectUrl = None,
    s3_endpoint_url: S3Endpoint = None,
    file_roots: FileRootsOption = None,
    settings_stdin: Annotated[
        bool, typer.Option("--settings-stdin", hidden=True, help="Read every setting as JSON from stdin.")
    ] = False,
) -> None:
    """Run background jobs (imports, training, batch jobs) from the shared job table."""
    from openpersonalize.jobs.worker import Worker
    from openpersonalize.server import open_context

    if settings_stdin:  # started by `serve`: its settings come through a pipe, not the environment
        settings = Settings.from_json(sys.stdin.read())
    else:
        settings = _settings(
            data_dir=data_dir,
            metadata_url=metadata_url,
            object_url=object_url,
            s3_endpoint_url=s3_endpoint_url,
            file_roots=file_roots,
        )
    _logging(settings.log_level)
    ctx = open_context(settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if settings.parent_pid:
        threading.Thread(target=_stop_when_orphaned, args=(settings.parent_pid, stop), daemon=True).start()
    Worker(ctx, exit_on_memory_limit=True).run_forever(stop)
    ctx.interactions.close()
    ctx.store.close()


@app.command()
def jobs(
    data_dir: DataDir = None,
    metadata_url: MetadataUrl = None,
    limit: Annotated[int, typer.Option(help="How many of the newest jobs to show.")] = 20,
) -> None:
    """Show background jobs (imports, trainings) with their progress."""
    from rich.console import Console
    from rich.table import Table

    from openpersonalize.store.metadata.sql import SqlMetadataStore

    settings = _settings(data_dir=data_dir, metadata_url=metadata_url)
    store = SqlMetadataStore(settings.resolved_metadata_url)
    table = Table(title="Jobs, newest first")
    for column in ("id", "kind", "resource", "status", "progress", "attempts", "error"):
        table.add_column(column)
    for job in store.recent_jobs(limit):
        progress = f"{job.progress * 100:.0f}%" if job.progress is not None else ""
        table.add_row(
            str(job.id), job.kind, job.resource_arn, job.status, progress, str(job.attempts), job.error or ""
        )
    Console().print(table)
    store.close()


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo server keeps its data.")
    ] = Path("./openpersonalize-demo"),
    port: Annotated[int | None, typer.Option(help="Port for the demo server (default: a free one).")] = None,
    keep_running: Annotated[bool, typer.Option(help="Leave the server running after the demo.")] = False,
) -> None:
    """Run the whole loop on bundled Retail Demo Store data: import, train, deploy, recommend, stream events."""
    import shutil

    from openpersonalize.demo.run import run_demo

    marker = data_dir / ".openpersonalize-demo"
    if data_dir.exists() and any(data_dir.iterdir()):
        if not marker.exists():
            raise typer.BadParameter(
                f"{data_dir} is not empty and not an earlier demo's directory.", param_hint="--data-dir"
            )
        shutil.rmtree(data_dir)  # every demo starts from an empty data directory
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()
    run_demo(data_dir, port, keep_running)


def _stop_when_orphaned(parent_pid: int, stop: threading.Event) -> None:
    """A worker started by `serve` ends with it, however `serve` ended."""
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            logging.getLogger(__name__).warning("the serve process %s is gone; stopping", parent_pid)
            stop.set()


class _WorkerSupervisor:
    """Keeps `settings.workers` worker processes running next to the server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        # Settings (database passwords, S3 secrets) go through a pipe: no OPENPERSONALIZE_* variable
        # reaches the worker's environment. Workers need no API credentials.
        settings = dataclasses.replace(
            self.settings,
            credentials="",
            parent_pid=os.getpid(),
            data_dir=self.settings.data_dir.resolve(),
            file_roots=":".join(str(root) for root in self.settings.resolved_file_roots),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "openpersonalize", "worker", "--settings-stdin"],
            env=env,
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None
        proc.stdin.write(settings.to_json().encode())
        proc.stdin.close()
        return proc

    def start(self) -> None:
        self.procs = [self._spawn() for _ in range(self.settings.workers)]
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self._stop.is_set():
                    logging.getLogger(__name__).warning("worker exited (%s); restarting", proc.returncode)
                    self.procs[i] = self._spawn()

    def stop(self) -> None:
        self._stop.set()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _redact(url: str) -> str:
    """Hide a password in a database URL before logging it."""
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def main() -> None:
    app()
