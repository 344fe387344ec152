"""Command line: `openpersonalize serve | worker | ...`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from openpersonalize import cli_client
from openpersonalize.settings import Settings

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
# Set by `serve` for the processes it starts: their settings come through a pipe, not the environment.
SettingsStdin = Annotated[
    bool, typer.Option("--settings-stdin", hidden=True, help="Read every setting as JSON from stdin.")
]
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
    processes: Annotated[
        int | None, typer.Option(help="Server processes sharing the port, to use every core (default 1).")
    ] = None,
    credentials: Annotated[
        str | None,
        typer.Option(
            help="Require SigV4 signatures by these keys, each in its account: "
            "AKID:secret[:account][,AKID2:secret2[:account2]]."
        ),
    ] = None,
    file_roots: FileRootsOption = None,
    settings_stdin: SettingsStdin = False,
) -> None:
    """Serve the personalize, personalize-events and personalize-runtime APIs on one port."""
    from openpersonalize.supervisor import serve_forever

    if settings_stdin:  # a server process started by `serve --processes N`
        settings = Settings.from_json(sys.stdin.read())
    else:
        settings = _settings(
            host=host,
            port=port,
            data_dir=data_dir,
            metadata_url=metadata_url,
            object_url=object_url,
            s3_endpoint_url=s3_endpoint_url,
            workers=workers,
            processes=processes,
            credentials=credentials,
            file_roots=file_roots,
        )
    if settings.processes < 1 or settings.workers < 0:
        raise typer.BadParameter("--processes must be at least 1 and --workers at least 0.")
    _logging(settings.log_level)
    serve_forever(settings, child=settings_stdin)


@app.command()
def worker(
    data_dir: DataDir = None,
    metadata_url: MetadataUrl = None,
    object_url: ObjectUrl = None,
    s3_endpoint_url: S3Endpoint = None,
    file_roots: FileRootsOption = None,
    settings_stdin: SettingsStdin = False,
) -> None:
    """Run background jobs (imports, training, batch jobs) from the shared job table."""
    from openpersonalize.jobs.worker import Worker
    from openpersonalize.server import open_context
    from openpersonalize.supervisor import stop_when_orphaned

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
        threading.Thread(target=stop_when_orphaned, args=(settings.parent_pid, stop), daemon=True).start()
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
    for column in ("id", "kind", "resource", "status", "progress", "detail", "attempts", "error"):
        table.add_column(column)
    for job in store.recent_jobs(limit):
        progress = f"{job.progress * 100:.0f}%" if job.progress is not None else ""
        table.add_row(
            str(job.id),
            job.kind,
            job.resource_arn,
            job.status,
            progress,
            _job_detail(store, job),
            str(job.attempts),
            job.error or "",
        )
    Console().print(table)
    store.close()


def _job_detail(store: Any, job: Any) -> str:
    """What a training is busy with: its HPO trials (stored on the solution version)."""
    if job.kind != "train":
        return ""
    resource = store.get(job.resource_arn)
    trials = (resource.attrs.get("_hpoTrials") or []) if resource is not None else []
    if not trials:
        return ""
    best = max(t["objective"] for t in trials)
    total = resource.attrs.get("_hpoTotal", len(trials))
    running = f", trial {len(trials) + 1} running" if job.status == "running" and len(trials) < total else ""
    return f"HPO {len(trials)}/{total} trials done{running}, best {best:.4f}"


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


cli_client.register(app)  # import, train, deploy, recommend, list, describe: against a running server


def main() -> None:
    app()
