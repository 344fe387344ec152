"""`openpersonalize demo`: the whole Personalize loop through boto3 against a fresh local server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
from rich.console import Console
from rich.table import Table

from openpersonalize.demo.dataset import DemoData, load_demo_data, product_info

UP = "arn:aws:personalize:::recipe/aws-user-personalization"
console = Console()


def run_demo(data_dir: Path, port: int | None = None, keep_running: bool = False) -> None:
    started = time.time()
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    # The server keeps its data apart from the demo's input files: file:// imports may read only
    # the input folder (the file roots), never the server's own data directory.
    inputs = data_dir / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    server = _start_server(data_dir / "server", port, inputs)
    try:
        kw = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo",
        }
        personalize = boto3.client("personalize", **kw)
        events = boto3.client("personalize-events", **kw)
        runtime = boto3.client("personalize-runtime", **kw)
        console.rule("[bold]openpersonalize demo")
        console.print(f"Server: {url}  (data in {data_dir / 'server'})")
        console.print(
            f"Console: {url}/console/  (watch the steps in a browser; --keep-running leaves it up after the demo)"
        )
        data = _step("Generating Retail Demo Store shoppers and their events", lambda: load_demo_data())
        console.print(
            f"  {data.interactions.num_rows:,} interactions, {data.items.num_rows:,} products, "
            f"{data.users.num_rows:,} users"
        )
        group, datasets = _step(
            "Creating the dataset group, schemas and datasets", lambda: _create(personalize, data)
        )
        files = data.write_csvs(inputs)
        for kind, path in files.items():
            _step(f"Importing {kind.lower()} ({path.name})", _importer(personalize, datasets[kind], path))
        tracking = personalize.create_event_tracker(name="demo-tracker", datasetGroupArn=group)["trackingId"]
        solution = personalize.create_solution(
            name="demo-user-personalization", datasetGroupArn=group, recipeArn=UP
        )
        version = _step(
            "Training aws-user-personalization",
            lambda: _train(personalize, solution["solutionArn"]),
        )
        _show_metrics(personalize.get_solution_metrics(solutionVersionArn=version)["metrics"])
        campaign = _step("Deploying a campaign", lambda: _deploy(personalize, version))
        shopper = _pick_shopper(data)
        console.print(f"\n[bold]Shopper[/] {shopper['USER_ID']} — persona [cyan]{shopper['PERSONA']}[/]")
        before = runtime.get_recommendations(campaignArn=campaign, userId=shopper["USER_ID"], numResults=10)
        _show_recs("Recommended now", before["itemList"])
        category = _new_interest(data, shopper["PERSONA"])
        items = _items_in(data, category, 5)
        console.print(f"\nThe shopper now views {len(items)} [cyan]{category}[/] products (PutEvents, live)…")
        events.put_events(
            trackingId=tracking,
            userId=shopper["USER_ID"],
            sessionId=f"demo-{int(time.time())}",
            eventList=[
                {"eventType": "View", "itemId": i, "sentAt": time.time(), "properties": '{"discount": "No"}'}
                for i in items
            ],
        )
        after = runtime.get_recommendations(campaignArn=campaign, userId=shopper["USER_ID"], numResults=10)
        _show_recs("Recommended after the live events (no retraining)", after["itemList"], before["itemList"])
        _show_shaped(personalize, runtime, group, campaign, shopper["USER_ID"], category)
        console.rule(f"done in {time.time() - started:.0f} s")
        if keep_running:
            console.print(f"The server keeps running at {url} (console: {url}/console/); Ctrl-C stops it.")
            server.wait()
    finally:
        _stop(server)


def _step(label: str, action: Callable[[], Any]) -> Any:
    with console.status(label + "…"):
        started = time.time()
        result = action()
    console.print(f"[green]✓[/] {label} [dim]({time.time() - started:.1f} s)[/]")
    return result


def _create(personalize: Any, data: DemoData) -> tuple[str, dict[str, str]]:
    group = personalize.create_dataset_group(name="retail-demo-store")["datasetGroupArn"]
    datasets = {}
    for kind, label in (("INTERACTIONS", "Interactions"), ("ITEMS", "Items"), ("USERS", "Users")):
        schema = personalize.create_schema(name=f"demo-{kind.lower()}", schema=data.schemas[kind])[
            "schemaArn"
        ]
        datasets[kind] = personalize.create_dataset(
            name=f"demo-{kind.lower()}", schemaArn=schema, datasetGroupArn=group, datasetType=label
        )["datasetArn"]
    return group, datasets


def _wait(describe: Callable[[], dict[str, Any]], timeout: float = 600) -> dict[str, Any]:
    deadline = time.time() + timeout
    while True:
        resource = describe()
        if resource["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
            if resource["status"] != "ACTIVE":
                raise SystemExit(f"failed: {resource.get('failureReason')}")
            return resource
        if time.time() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.2)


def _importer(personalize: Any, dataset: str, path: Path) -> Callable[[], None]:
    return lambda: _import(personalize, dataset, path)


def _import(personalize: Any, dataset: str, path: Path) -> None:
    arn = personalize.create_dataset_import_job(
        jobName=f"demo-{path.stem}", datasetArn=dataset, dataSource={"dataLocation": path.resolve().as_uri()}
    )["datasetImportJobArn"]
    _wait(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"])


def _train(personalize: Any, solution: str) -> str:
    arn: str = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    _wait(lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"])
    return arn


def _deploy(personalize: Any, version: str) -> str:
    arn: str = personalize.create_campaign(name="demo-campaign", solutionVersionArn=version)["campaignArn"]
    _wait(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"])
    return arn


def _show_metrics(metrics: dict[str, float]) -> None:
    table = Table(title="Offline metrics (GetSolutionMetrics, 10% of users held out)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)


def _show_recs(title: str, items: list[dict[str, Any]], previous: list[dict[str, Any]] | None = None) -> None:
    info = product_info([i["itemId"] for i in items])
    old = {i["itemId"] for i in previous or []}
    table = Table(title=title)
    for column in ("#", "product", "category", "price", "score", ""):
        table.add_column(column)
    for rank, entry in enumerate(items, 1):
        product = info.get(entry["itemId"], {})
        marker = "[yellow]new[/]" if previous is not None and entry["itemId"] not in old else ""
        if entry.get("promotionName"):
            marker = f"[magenta]{entry['promotionName']}[/]"
        table.add_row(
            str(rank),
            str(product.get("name", entry["itemId"]))[:48],
            str(product.get("category", "?")),
            f"${product.get('price', 0):.2f}",
            f"{entry.get('score', 0):.4f}",
            marker,
        )
    console.print(table)


def _show_shaped(personalize: Any, runtime: Any, group: str, campaign: str, user: str, category: str) -> None:
    """A filter and a promotion on the same campaign (docs/shaping.md)."""
    in_category = personalize.create_filter(
        name="demo-in-category",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
    )["filterArn"]
    bargains = personalize.create_filter(
        name="demo-bargains", datasetGroupArn=group, filterExpression="INCLUDE ItemID WHERE Items.PRICE < 20"
    )["filterArn"]
    console.print(
        f"\nOnly [cyan]{category}[/] (a filter with a placeholder), with 30% of the list promoting "
        "products under $20 (a promotion with its own filter):"
    )
    shaped = runtime.get_recommendations(
        campaignArn=campaign,
        userId=user,
        numResults=10,
        filterArn=in_category,
        filterValues={"CATEGORY": f'"{category}"'},
        promotions=[{"name": "bargains", "percentPromotedItems": 30, "filterArn": bargains}],
    )
    _show_recs("Filtered and promoted", shaped["itemList"])


def _pick_shopper(data: DemoData) -> dict[str, Any]:
    users = data.users.to_pylist()
    active = set(data.interactions.column("USER_ID").to_pylist())
    return next(u for u in users if u["USER_ID"] in active)


def _new_interest(data: DemoData, persona: str) -> str:
    liked = set(persona.split("_"))
    categories = sorted(set(data.items.column("CATEGORY").to_pylist()))
    return next(c for c in categories if c not in liked)


def _items_in(data: DemoData, category: str, n: int) -> list[str]:
    rows = [r["ITEM_ID"] for r in data.items.to_pylist() if r["CATEGORY"] == category]
    return rows[:n]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path, port: int, file_roots: Path) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OPENPERSONALIZE_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "openpersonalize", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    cmd += ["--file-roots", str(file_roots.resolve())]
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {data_dir / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    _stop(proc)
    raise SystemExit("the server did not start within 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
