"""What each console page shows, gathered through the same control plane and runtime as the API
(``Dispatcher.call_control``, validated as over the wire) in the caller's scope."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from openpersonalize.api.request_metrics import Timeline
from openpersonalize.console import charts
from openpersonalize.control import arns, registry
from openpersonalize.data.schema import parse_schema
from openpersonalize.errors import ResourceNotFound
from openpersonalize.scope import Scope
from openpersonalize.serving.experiment_book import ExperimentBook
from openpersonalize.store.interactions import InteractionsStore
from openpersonalize.store.metadata import MetadataStore, progress_of
from openpersonalize.store.metadata.series import AttributionSeries

Call = Callable[[str, dict[str, Any], Scope], dict[str, Any]]
# Kinds the console may delete (with confirmation), by their Delete operation.
DELETABLE = ("dataset-group", "dataset", "event-tracker", "solution", "campaign", "recommender", "filter",
             "metric-attribution", "schema")  # fmt: skip
# Statuses of work still under way, for which a progress bar means something.
UNDER_WAY = ("CREATE PENDING", "CREATE IN_PROGRESS", "PENDING", "IN_PROGRESS")
# The offline metrics the version chart compares (the rest are in the table).
CHARTED_METRICS = ("precision_at_5", "normalized_discounted_cumulative_gain_at_10", "mean_reciprocal_rank_at_25",
                   "coverage")  # fmt: skip


def operation(verb: str, kind: str) -> str:
    """("Describe", "dataset-group") -> "DescribeDatasetGroup"."""
    return verb + "".join(part.capitalize() for part in kind.split("-"))


class Pages:
    def __init__(
        self,
        call: Call,
        store: MetadataStore,
        interactions: InteractionsStore,
        series: AttributionSeries,
        timeline: Timeline,
        book: ExperimentBook,
    ) -> None:
        self._call, self.store, self.interactions = call, store, interactions
        self.series, self.timeline, self.book = series, timeline, book

    def call(self, scope: Scope, op: str, **params: Any) -> dict[str, Any]:
        return self._call(op, params, scope)

    def listing(self, scope: Scope, kind: str, **parent: Any) -> list[dict[str, Any]]:
        """Every one of a kind (newest first), page by page as a client would."""
        key, found = registry.kind(kind).list_key, []
        params: dict[str, Any] = {"maxResults": 100, **parent}
        while True:
            page = self.call(scope, operation("List", kind) + "s", **params)
            found += page[key]
            if not page.get("nextToken"):
                return found
            params["nextToken"] = page["nextToken"]

    # -- pages --------------------------------------------------------------------------------
    def home(self, scope: Scope) -> dict[str, Any]:
        groups = self.listing(scope, "dataset-group")
        return {"groups": groups, "jobs": self.jobs(scope)["jobs"][:10]}

    def jobs(self, scope: Scope) -> dict[str, Any]:
        """Every job of the caller's account, newest first, with its worker progress."""
        rows = []
        for kind in ("dataset-import-job", "batch-inference-job", "batch-segment-job", "dataset-export-job",
                     "data-deletion-job"):  # fmt: skip
            declared = registry.kind(kind)
            for job in self.listing(scope, kind):
                arn = job[declared.arn_member]
                rows.append({"kind": declared.label, "name": job.get("jobName"), "arn": arn,
                             "status": job.get("status"), "created": job.get("creationDateTime") or 0,
                             "failureReason": job.get("failureReason"), "progress": progress_of(self.store, arn)})  # fmt: skip
        for group in self.listing(scope, "dataset-group"):
            for solution in self.listing(scope, "solution", datasetGroupArn=group["datasetGroupArn"]):
                for version in self.listing(scope, "solution-version", solutionArn=solution["solutionArn"]):
                    arn = version["solutionVersionArn"]
                    rows.append({"kind": "Training", "name": f"{solution['name']} / {arn.rsplit('/', 1)[-1]}",
                                 "arn": arn, "status": version.get("status"),
                                 "created": version.get("creationDateTime") or 0,
                                 "failureReason": version.get("failureReason"), "progress": progress_of(self.store, arn)})  # fmt: skip
        rows.sort(key=lambda r: r["created"], reverse=True)
        return {"jobs": rows}

    def resource(self, scope: Scope, arn: str) -> dict[str, Any]:
        kind = arns.kind_of(arn)
        if kind not in registry.KINDS or not scope.owns(arn):
            raise ResourceNotFound(f"Resource Arn {arn} does not exist.")
        declared = registry.kind(kind)
        described = self.call(scope, operation("Describe", kind), **{declared.arn_member: arn})
        fields = described[declared.describe_key]
        page: dict[str, Any] = {"kind": kind, "label": declared.label, "arn": arn, "fields": fields,
                                "name": fields.get("name") or fields.get("jobName") or arn.rsplit("/", 1)[-1],
                                "deletable": kind in DELETABLE,
                                "done": progress_of(self.store, arn) if fields.get("status") in UNDER_WAY else None}  # fmt: skip
        more = getattr(self, "_" + kind.replace("-", "_"), None)
        if more is not None:
            page.update(more(scope, fields))
        return page

    # -- what each kind adds --------------------------------------------------------------------
    def _dataset_group(self, scope: Scope, group: dict[str, Any]) -> dict[str, Any]:
        parent = {"datasetGroupArn": group["datasetGroupArn"]}
        solutions = self.listing(scope, "solution", **parent)
        campaigns = [
            c for s in solutions for c in self.listing(scope, "campaign", solutionArn=s["solutionArn"])
        ]
        datasets = self.listing(scope, "dataset", **parent)
        for dataset in datasets:
            dataset["rows"] = self.row_count(dataset["datasetArn"])
        recipes = [
            r for r in self.call(scope, "ListRecipes", maxResults=100)["recipes"] if not r.get("domain")
        ]
        return {
            "datasets": datasets, "solutions": solutions, "campaigns": campaigns, "recipes": recipes,
            "recommenders": self.listing(scope, "recommender", **parent),
            "filters": self.listing(scope, "filter", **parent),
            "trackers": self.listing(scope, "event-tracker", **parent),
            "attributions": [
                {**a, "metrics": self.call(scope, "ListMetricAttributionMetrics",
                                           metricAttributionArn=a["metricAttributionArn"])["metrics"]}
                for a in self.listing(scope, "metric-attribution", **parent)
            ],
        }  # fmt: skip

    def _dataset(self, scope: Scope, dataset: dict[str, Any]) -> dict[str, Any]:
        schema = self.call(scope, "DescribeSchema", schemaArn=dataset["schemaArn"])["schema"]
        parsed = parse_schema(schema["schema"])
        columns = [{"name": f.name, "type": f.type + (" or null" if f.nullable else ""),
                    "categorical": f.categorical, "textual": f.textual} for f in parsed.fields]  # fmt: skip
        imports = self.listing(scope, "dataset-import-job", datasetArn=dataset["datasetArn"])
        for job in imports:
            job["progress"] = progress_of(self.store, job["datasetImportJobArn"])
        exports = self.listing(scope, "dataset-export-job", datasetArn=dataset["datasetArn"])
        return {"rows": self.row_count(dataset["datasetArn"]), "columns": columns, "imports": imports,
                "exports": exports}  # fmt: skip

    def _solution(self, scope: Scope, solution: dict[str, Any]) -> dict[str, Any]:
        versions = self.listing(scope, "solution-version", solutionArn=solution["solutionArn"])
        metrics: dict[str, dict[str, float]] = {}
        for version in versions:
            version["progress"] = progress_of(self.store, version["solutionVersionArn"])
            version["id"] = version["solutionVersionArn"].rsplit("/", 1)[-1]
            if version.get("status") == "ACTIVE":
                got = self.call(scope, "GetSolutionMetrics", solutionVersionArn=version["solutionVersionArn"])
                metrics[version["id"]] = got.get("metrics") or {}
                version["metrics"] = metrics[version["id"]]
        names = [m for m in CHARTED_METRICS if any(m in values for values in metrics.values())]
        chart = None
        if metrics and names:
            ordered = list(reversed(metrics))  # oldest first
            chart = charts.bars(
                [n.replace("normalized_discounted_cumulative_gain", "ndcg") for n in names],
                {v: [metrics[v].get(n) for n in names] for v in ordered},
                "offline metric",
            )
        campaigns = self.listing(scope, "campaign", solutionArn=solution["solutionArn"])
        return {"versions": versions, "metrics_chart": chart, "campaigns": campaigns}

    def _solution_version(self, scope: Scope, version: dict[str, Any]) -> dict[str, Any]:
        metrics = {}
        if version.get("status") == "ACTIVE":
            metrics = self.call(scope, "GetSolutionMetrics", solutionVersionArn=version["solutionVersionArn"])
        batches = self.listing(scope, "batch-inference-job", solutionVersionArn=version["solutionVersionArn"])
        filters = self.listing(scope, "filter", datasetGroupArn=version["datasetGroupArn"])
        return {"metrics": metrics.get("metrics") or {}, "batches": batches, "filters": filters}

    def _campaign(self, scope: Scope, campaign: dict[str, Any]) -> dict[str, Any]:
        return self.traffic(campaign["campaignArn"])

    def _recommender(self, scope: Scope, recommender: dict[str, Any]) -> dict[str, Any]:
        return self.traffic(recommender["recommenderArn"])

    def _event_tracker(self, scope: Scope, tracker: dict[str, Any]) -> dict[str, Any]:
        datasets = self.listing(scope, "dataset", datasetGroupArn=tracker["datasetGroupArn"])
        series: dict[str, list[float | None]] = {}
        labels: list[str] = []
        for dataset in datasets:
            found = self.store.get(dataset["datasetArn"])
            minutes = self.timeline.read(f"dataset:{found.attrs.get('_id') if found else ''}")
            labels = [charts.clock(m["minute"]) for m in minutes]
            series[dataset["datasetType"].lower()] = [m["count"] for m in minutes]
        return {"events_chart": charts.line(labels, series, "records per minute") if series else None}

    def _metric_attribution(self, scope: Scope, attribution: dict[str, Any]) -> dict[str, Any]:
        arn = attribution["metricAttributionArn"]
        points: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
        windows: set[int] = set()
        for point in self.series.read(arn, 0):
            points[point.metric_name][point.source][point.window] = point.value
            windows.add(point.window)
        ordered = sorted(windows)
        labels = [charts.clock(w, with_day=True) for w in ordered]
        names = {}
        for source in {s for by_source in points.values() for s in by_source}:
            names[source] = source.rsplit("/", 1)[-1] if source.startswith("arn:") else source
        metric_charts = []
        listed = self.call(scope, "ListMetricAttributionMetrics", metricAttributionArn=arn, maxResults=100)
        for metric in listed["metrics"]:
            by_source = points.get(metric["metricName"], {})
            series = {names[s]: [by_source[s].get(w, 0.0) for w in ordered] for s in sorted(by_source)}
            metric_charts.append(
                {"metric": metric, "chart": charts.line(labels, series, metric["metricName"])}
            )
        return {"metric_charts": metric_charts}

    # -- shared pieces ----------------------------------------------------------------------------
    def traffic(self, arn: str) -> dict[str, Any]:
        """Requests per minute and latency over the last hour (this server process's)."""
        minutes = self.timeline.read(arn)
        labels = [charts.clock(m["minute"]) for m in minutes]
        return {
            "requests_chart": charts.line(labels, {"requests": [m["count"] for m in minutes]}, "requests per minute"),
            "latency_chart": charts.line(labels, {"mean": [m["meanMs"] for m in minutes],
                                                  "p99": [m["p99Ms"] for m in minutes]}, "milliseconds"),
        }  # fmt: skip

    def row_count(self, dataset_arn: str) -> int:
        found = self.store.get(dataset_arn)
        if found is None:
            return 0
        dataset_id = found.attrs.get("_id", "")
        return sum(p.rows for p in self.interactions.parts(dataset_id)) + len(
            self.interactions.pending(dataset_id)
        )

    def targets(self, scope: Scope) -> dict[str, Any]:
        """What "try it" can ask: campaigns, recommenders and filters, by dataset group."""
        options, filters = [], []
        for group in self.listing(scope, "dataset-group"):
            parent = {"datasetGroupArn": group["datasetGroupArn"]}
            for solution in self.listing(scope, "solution", **parent):
                for campaign in self.listing(scope, "campaign", solutionArn=solution["solutionArn"]):
                    options.append({"arn": campaign["campaignArn"], "label": f"campaign {campaign['name']}",
                                    "group": group["name"], "recipe": solution.get("recipeArn", "")})  # fmt: skip
            for recommender in self.listing(scope, "recommender", **parent):
                options.append({"arn": recommender["recommenderArn"], "label": f"recommender {recommender['name']}",
                                "group": group["name"], "recipe": recommender.get("recipeArn", "")})  # fmt: skip
            filters += [{"arn": f["filterArn"], "name": f["name"], "expression": f.get("filterExpression", "")}
                        for f in self.listing(scope, "filter", **parent)]  # fmt: skip
        return {"targets": options, "filters": filters}

    # -- experiments ----------------------------------------------------------------------------
    def experiment(self, scope: Scope, name: str) -> dict[str, Any]:
        found = self.book.get(scope, name)
        results, timeline = self.book.report(found)
        labels = [charts.clock(w, with_day=True) for w in timeline["windows"]]
        metric_charts = []
        for metric, lines in timeline["metrics"].items():
            series = {v: [p["perAnswer"] for p in points] for v, points in lines.items()}
            bands = {
                v: ([p.get("interval", [None, None])[0] for p in points], [p.get("interval", [None, None])[1] for p in points])
                for v, points in lines.items()
                if any("interval" in p for p in points)
            }  # fmt: skip
            metric_charts.append({"metric": metric, "result": results["metrics"].get(metric, {}),
                                  "chart": charts.line(labels, series, f"{metric} per answer", bands=bands)})  # fmt: skip
        return {"experiment": self.book.view(found), "results": results, "metric_charts": metric_charts}


def pretty(value: Any) -> str:
    """A Describe member as the page shows it: scalars as they are, the rest as indented JSON."""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, sort_keys=True, default=str)
    return str(value)
