"""The common flows from the command line, against a running server (this machine's or another's):
`import`, `train`, `deploy`, `recommend`, `list`, `describe`. They speak the AWS API through
boto3, as any client would, show progress while a job runs, print tables (or `--json`), and exit
with a code that says what happened.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from openpersonalize.control import registry

EXIT_FAILED = 1  # the job or resource ended failed
EXIT_API = 3  # the server refused the request (its error code and message are printed)
EXIT_UNREACHABLE = 4  # no server answered at the endpoint

Endpoint = Annotated[
    str,
    typer.Option("--endpoint-url", envvar="OPENPERSONALIZE_ENDPOINT_URL", help="The server to talk to."),
]
Region = Annotated[str, typer.Option(envvar="AWS_DEFAULT_REGION", help="The region of the ARNs.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")]
DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
RECIPE = "arn:aws:personalize:::recipe/{}"
# `list` kinds: (boto3 method, result key, the parent filter it takes)
LISTS: dict[str, tuple[str, str, str | None]] = {
    "dataset-groups": ("list_dataset_groups", "datasetGroups", None),
    "datasets": ("list_datasets", "datasets", "datasetGroupArn"),
    "schemas": ("list_schemas", "schemas", None),
    "solutions": ("list_solutions", "solutions", "datasetGroupArn"),
    "solution-versions": ("list_solution_versions", "solutionVersions", "solutionArn"),
    "campaigns": ("list_campaigns", "campaigns", "solutionArn"),
    "recommenders": ("list_recommenders", "recommenders", "datasetGroupArn"),
    "filters": ("list_filters", "Filters", "datasetGroupArn"),
    "event-trackers": ("list_event_trackers", "eventTrackers", "datasetGroupArn"),
    "dataset-import-jobs": ("list_dataset_import_jobs", "datasetImportJobs", "datasetArn"),
    "dataset-export-jobs": ("list_dataset_export_jobs", "datasetExportJobs", "datasetArn"),
    "batch-inference-jobs": ("list_batch_inference_jobs", "batchInferenceJobs", "solutionVersionArn"),
    "batch-segment-jobs": ("list_batch_segment_jobs", "batchSegmentJobs", "solutionVersionArn"),
    "data-deletion-jobs": ("list_data_deletion_jobs", "dataDeletionJobs", "datasetGroupArn"),
    "metric-attributions": ("list_metric_attributions", "metricAttributions", "datasetGroupArn"),
    "recipes": ("list_recipes", "recipes", None),
}
SETTLED = {"ACTIVE", "CREATE FAILED", "CREATE STOPPED", "COMPLETED", "FAILED", "INACTIVE"}


def register(app: typer.Typer) -> None:
    for command in (import_, train, deploy, recommend, list_, describe):
        app.command(name=command.__name__.rstrip("_"))(command)
    experiments = typer.Typer(no_args_is_help=True, help="A/B experiments (docs/experiments.md).")
    for sub in (experiment_create, experiment_show, experiment_list, experiment_stop):
        experiments.command(name=sub.__name__.removeprefix("experiment_"))(sub)
    app.add_typer(experiments, name="experiment")


ApiKey = Annotated[
    str | None, typer.Option(envvar="OPENPERSONALIZE_API_KEY", help="An API key of the server.")
]


def experiment_create(
    name: Annotated[str, typer.Argument(help="The experiment's name.")],
    variant: Annotated[
        list[str],
        typer.Option(help="name=campaign:NAME[:share] or name=recommender:NAME[:share]; twice or more."),
    ],
    metric_attribution: Annotated[
        str | None, typer.Option(help="The metric attribution's ARN that measures it.")
    ] = None,
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    api_key: ApiKey = None,
) -> None:
    """Start an experiment splitting users between campaigns or recommenders."""
    variants = []
    for text in variant:
        label, _, spec = text.partition("=")
        kind, _, rest = spec.partition(":")
        target, _, share = rest.partition(":")
        if not label or kind not in ("campaign", "recommender") or not target:
            raise typer.BadParameter(f"{text!r}: expected name=campaign:NAME[:share]", param_hint="--variant")
        variants.append({"name": label, kind: target, "share": float(share or 1)})
    body = {"name": name, "variants": variants, "metricAttributionArn": metric_attribution}
    _print_json(_rest(endpoint_url, api_key, "POST", "/experiments", body))


def experiment_show(
    name: Annotated[str, typer.Argument()], endpoint_url: Endpoint = DEFAULT_ENDPOINT, api_key: ApiKey = None
) -> None:
    """An experiment with its results so far (JSON)."""
    _print_json(_rest(endpoint_url, api_key, "GET", f"/experiments/{name}"))


def experiment_list(endpoint_url: Endpoint = DEFAULT_ENDPOINT, api_key: ApiKey = None) -> None:
    """The experiments (JSON)."""
    _print_json(_rest(endpoint_url, api_key, "GET", "/experiments"))


def experiment_stop(
    name: Annotated[str, typer.Argument()], endpoint_url: Endpoint = DEFAULT_ENDPOINT, api_key: ApiKey = None
) -> None:
    """Stop an experiment (its requests are refused from then on)."""
    _print_json(_rest(endpoint_url, api_key, "POST", f"/experiments/{name}/stop"))


def _rest(endpoint_url: str, api_key: str | None, method: str, path: str, body: Any = None) -> Any:
    import httpx

    headers = {"X-Api-Key": api_key} if api_key else {}
    try:
        response = httpx.request(
            method, endpoint_url.rstrip("/") + path, json=body, headers=headers, timeout=60
        )
    except httpx.TransportError:
        typer.echo(f"No server answers at {endpoint_url} (start one with `openpersonalize serve`).", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None
    if response.status_code >= 400:
        detail = (
            response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        )
        typer.echo(
            f"{detail.get('error', response.status_code)}: {detail.get('message', response.text)}", err=True
        )
        raise typer.Exit(EXIT_API)
    return response.json()


def import_(
    csv_file: Annotated[Path, typer.Argument(help="The CSV file (a header row, then records).", exists=True)],
    group: Annotated[str, typer.Option(help="The dataset group's name (created if missing).")],
    dataset_type: Annotated[
        str, typer.Option("--type", help="Interactions, Items or Users.")
    ] = "Interactions",
    schema: Annotated[Path | None, typer.Option(help="An Avro schema file (default: inferred).")] = None,
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    region: Region = "us-east-1",
    as_json: AsJson = False,
) -> None:
    """Import a CSV file into a dataset group (the dataset and its schema are created as needed)."""
    with _api(endpoint_url, region) as personalize:
        group_arn = _ensure_group(personalize, group)
        kind = dataset_type.capitalize() if dataset_type.lower() != "interactions" else "Interactions"
        text = schema.read_text() if schema else json.dumps(infer_schema(csv_file, kind))
        dataset_arn = _ensure_dataset(personalize, group_arn, group, kind, text)
        job = personalize.create_dataset_import_job(
            jobName=f"{group}-{kind.lower()}-{int(time.time())}", datasetArn=dataset_arn,
            dataSource={"dataLocation": csv_file.resolve().as_uri()},
        )["datasetImportJobArn"]  # fmt: skip
        done = _wait(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"],
                     f"importing {csv_file.name}", endpoint_url, job, region)  # fmt: skip
        _finish(done, as_json, {"datasetArn": dataset_arn, "datasetImportJobArn": job})


def train(
    group: Annotated[str, typer.Option(help="The dataset group's name or ARN.")],
    recipe: Annotated[
        str, typer.Option(help="A recipe name, e.g. aws-user-personalization.")
    ] = "aws-user-personalization",
    name: Annotated[str | None, typer.Option(help="The solution's name (default: the recipe's).")] = None,
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    region: Region = "us-east-1",
    as_json: AsJson = False,
) -> None:
    """Train a solution version (the solution is created if missing); prints its offline metrics."""
    with _api(endpoint_url, region) as personalize:
        group_arn = _group_arn(personalize, group)
        solution_name = name or recipe.removeprefix("aws-")
        solutions = personalize.list_solutions(datasetGroupArn=group_arn)["solutions"]
        found = [s["solutionArn"] for s in solutions if s["name"] == solution_name]
        solution = found[0] if found else personalize.create_solution(
            name=solution_name, datasetGroupArn=group_arn, recipeArn=RECIPE.format(recipe))["solutionArn"]  # fmt: skip
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        done = _wait(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
                     f"training {recipe}", endpoint_url, version, region)  # fmt: skip
        metrics = (
            personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
            if done["status"] == "ACTIVE"
            else {}
        )
        _finish(done, as_json, {"solutionVersionArn": version, "metrics": metrics}, metrics)


def deploy(
    solution_version: Annotated[str, typer.Argument(help="The solution version's ARN.")],
    name: Annotated[str, typer.Option(help="The campaign's name.")],
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    region: Region = "us-east-1",
    as_json: AsJson = False,
) -> None:
    """Deploy a solution version in a campaign."""
    with _api(endpoint_url, region) as personalize:
        campaign = personalize.create_campaign(name=name, solutionVersionArn=solution_version)["campaignArn"]
        done = _wait(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], f"deploying {name}",
                     endpoint_url, campaign, region)  # fmt: skip
        _finish(done, as_json, {"campaignArn": campaign})


def recommend(
    user: Annotated[str | None, typer.Option(help="The user's id.")] = None,
    item: Annotated[str | None, typer.Option(help="The item's id (related-items recipes).")] = None,
    campaign: Annotated[str | None, typer.Option(help="A campaign's name or ARN.")] = None,
    recommender: Annotated[str | None, typer.Option(help="A recommender's name or ARN.")] = None,
    num: Annotated[int, typer.Option(help="How many items.")] = 10,
    filter_arn: Annotated[str | None, typer.Option("--filter", help="A filter's ARN.")] = None,
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    region: Region = "us-east-1",
    as_json: AsJson = False,
) -> None:
    """Ask a campaign or recommender for recommendations."""
    if bool(campaign) == bool(recommender):
        raise typer.BadParameter("give --campaign or --recommender (one of them)")
    with _api(endpoint_url, region, "personalize-runtime") as runtime:
        account = _account(endpoint_url, region)
        params: dict[str, Any] = {"numResults": num}
        if campaign:
            params["campaignArn"] = _arn(campaign, "campaign", region, account)
        else:
            params["recommenderArn"] = _arn(str(recommender), "recommender", region, account)
        params.update({k: v for k, v in (("userId", user), ("itemId", item), ("filterArn", filter_arn)) if v})
        answer = runtime.get_recommendations(**params)
        answer.pop("ResponseMetadata", None)
        if as_json:
            _print_json(answer)
            return
        rows = [
            [str(n), i["itemId"], f"{i['score']:.4f}" if "score" in i else ""]
            for n, i in enumerate(answer["itemList"], 1)
        ]
        _table(["rank", "item", "score"], rows, f"recommendationId {answer.get('recommendationId', '')}")


def list_(
    kind: Annotated[str, typer.Argument(help="What to list: " + ", ".join(LISTS))],
    parent: Annotated[
        str | None, typer.Option(help="The parent's ARN (dataset group, solution, ...).")
    ] = None,
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    region: Region = "us-east-1",
    as_json: AsJson = False,
) -> None:
    """List resources, newest first."""
    if kind not in LISTS:
        raise typer.BadParameter(f"{kind!r}: one of {', '.join(LISTS)}")
    method, key, member = LISTS[kind]
    with _api(endpoint_url, region) as personalize:
        params = {member: parent} if parent and member else {}
        found = [item for page in personalize.get_paginator(method).paginate(**params) for item in page[key]]
    if as_json:
        _print_json(found)
        return
    rows = [[str(i.get("name") or i.get("jobName") or ""), str(_arn_of(i)), str(i.get("status", "")),
             str(i.get("creationDateTime", ""))[:19]] for i in found]  # fmt: skip
    _table(["name", "arn", "status", "created"], rows, f"{len(found)} {kind}")


def describe(
    arn: Annotated[str, typer.Argument(help="Any resource's ARN.")],
    endpoint_url: Endpoint = DEFAULT_ENDPOINT,
    region: Region = "us-east-1",
) -> None:
    """Describe a resource (JSON)."""
    segment = arn.split(":", 5)[-1].split("/", 1)[0]
    if segment not in registry.KINDS:
        raise typer.BadParameter(f"{arn!r} names no resource kind this server knows")
    declared = registry.kind(segment)
    with _api(endpoint_url, region) as personalize:
        answer = getattr(personalize, "describe_" + segment.replace("-", "_"))(**{declared.arn_member: arn})
    _print_json(answer[declared.describe_key])


# -- helpers --------------------------------------------------------------------------------------
def infer_schema(path: Path, kind: str) -> dict[str, Any]:
    """An Avro schema from a CSV header and its first rows: ids strings, TIMESTAMP long, numbers
    float, everything else a (nullable) string; "a|b" values make a column categorical."""
    with path.open(newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        sample = [row for _, row in zip(range(1000), reader, strict=False)]
    fields: list[dict[str, Any]] = []
    for index, name in enumerate(header):
        values = [row[index] for row in sample if index < len(row) and row[index] != ""]
        if name in ("USER_ID", "ITEM_ID", "ACTION_ID"):
            fields.append({"name": name, "type": "string"})
        elif name in ("TIMESTAMP", "CREATION_TIMESTAMP"):
            fields.append({"name": name, "type": "long"})
        elif name == "EVENT_TYPE":
            fields.append({"name": name, "type": "string"})
        elif values and all(re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", v) for v in values):
            fields.append({"name": name, "type": ["null", "float"]})
        else:
            field: dict[str, Any] = {"name": name, "type": ["null", "string"]}
            if any("|" in v for v in values) or len(set(values)) < max(2, len(values) // 2):
                field["categorical"] = True
            fields.append(field)
    return {"type": "record", "name": kind, "namespace": "com.amazonaws.personalize.schema",
            "fields": fields, "version": "1.0"}  # fmt: skip


@contextmanager
def _api(endpoint_url: str, region: str, service: str = "personalize") -> Iterator[Any]:
    import boto3
    from botocore.exceptions import ClientError, EndpointConnectionError

    key, secret = _keys()
    client = boto3.client(service, endpoint_url=endpoint_url, region_name=region,
                          aws_access_key_id=key, aws_secret_access_key=secret)  # fmt: skip
    try:
        yield client
    except ClientError as error:
        detail = error.response.get("Error", {})
        typer.echo(f"{detail.get('Code', 'Error')}: {detail.get('Message', error)}", err=True)
        raise typer.Exit(EXIT_API) from None
    except EndpointConnectionError:
        typer.echo(f"No server answers at {endpoint_url} (start one with `openpersonalize serve`).", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from None


def _keys() -> tuple[str, str]:
    """The access key id and secret the CLI signs with (the AWS environment variables)."""
    key = os.environ.get("AWS_ACCESS_KEY_ID") or "openpersonalize"
    return key, os.environ.get("AWS_SECRET_ACCESS_KEY") or "openpersonalize"


def _account(endpoint_url: str, region: str) -> str:
    """The account the server puts in ARNs (read from any ARN it returns; the default otherwise)."""
    with _api(endpoint_url, region) as personalize:
        recipes = personalize.list_dataset_groups(maxResults=1)["datasetGroups"]
    return recipes[0]["datasetGroupArn"].split(":")[4] if recipes else "123456789012"


def _arn(name_or_arn: str, kind: str, region: str, account: str) -> str:
    return (
        name_or_arn
        if name_or_arn.startswith("arn:")
        else f"arn:aws:personalize:{region}:{account}:{kind}/{name_or_arn}"
    )


def _group_arn(personalize: Any, group: str) -> str:
    if group.startswith("arn:"):
        return group
    for page in personalize.get_paginator("list_dataset_groups").paginate():
        for found in page["datasetGroups"]:
            if found["name"] == group:
                return str(found["datasetGroupArn"])
    typer.echo(f"No dataset group is named {group!r}.", err=True)
    raise typer.Exit(EXIT_API)


def _ensure_group(personalize: Any, name: str) -> str:
    for page in personalize.get_paginator("list_dataset_groups").paginate():
        for found in page["datasetGroups"]:
            if found["name"] == name:
                return str(found["datasetGroupArn"])
    return str(personalize.create_dataset_group(name=name)["datasetGroupArn"])


def _ensure_dataset(personalize: Any, group_arn: str, group: str, kind: str, schema: str) -> str:
    for found in personalize.list_datasets(datasetGroupArn=group_arn)["datasets"]:
        if found["datasetType"].upper() == kind.upper():
            return str(found["datasetArn"])
    schema_arn = personalize.create_schema(name=f"{group}-{kind.lower()}-{int(time.time())}", schema=schema)[
        "schemaArn"
    ]
    return str(personalize.create_dataset(name=f"{group}-{kind.lower()}", schemaArn=schema_arn,
                                          datasetGroupArn=group_arn, datasetType=kind)["datasetArn"])  # fmt: skip


def _wait(
    describe: Callable[[], dict[str, Any]], what: str, endpoint_url: str, arn: str, region: str
) -> dict[str, Any]:
    """Poll until the resource settles, with a progress bar (the server's percent done) and its status."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=100)
        while True:
            current = describe()
            if current["status"] in SETTLED:
                return current
            done = _percent_done(endpoint_url, arn, region)
            bar.update(task, description=f"{what}: {current['status']}", completed=done or 0)
            time.sleep(0.5)


def _percent_done(endpoint_url: str, arn: str, region: str) -> float | None:
    """GET /jobs/progress, signed as the API calls are (SigV4: the secret never travels); None
    when the server does not say."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{endpoint_url.rstrip('/')}/jobs/progress?{urlencode({'arn': arn})}"
    signed = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(*_keys()), "personalize", region).add_auth(signed)
    try:
        answer = httpx.get(url, headers=dict(signed.headers.items()))
        done = answer.json().get("percentDone") if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return float(done) if isinstance(done, int | float) else None


def _finish(
    done: dict[str, Any], as_json: bool, result: dict[str, Any], metrics: dict[str, float] | None = None
) -> None:
    ok = done["status"] in ("ACTIVE", "COMPLETED")
    result = {
        "status": done["status"],
        **result,
        **({"failureReason": done["failureReason"]} if not ok else {}),
    }
    if as_json:
        _print_json(result)
    else:
        for key, value in result.items():
            if key != "metrics":
                typer.echo(f"{key}: {value}")
        if metrics:
            _table(
                ["metric", "value"], [[k, f"{v:.4f}"] for k, v in sorted(metrics.items())], "offline metrics"
            )
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def _arn_of(item: dict[str, Any]) -> str:
    return next((str(v) for k, v in item.items() if k.endswith("Arn") and k != "datasetGroupArn"), "")


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _table(headers: list[str], rows: list[list[str]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
