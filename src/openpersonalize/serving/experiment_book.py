"""The experiments kept in the metadata database: create, list, stop, delete, and their results so
far (totals and, for charts, the running rate window by window). One book for every adapter: the
JSON API, the console and the CLI (through the API)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpersonalize.data.metric_expressions import function_of
from openpersonalize.errors import InvalidInput, ResourceAlreadyExists, ResourceNotFound
from openpersonalize.scope import Scope
from openpersonalize.serving.attribution import WINDOW_SECONDS
from openpersonalize.serving.experiments import SERVED, Variant, parse_variants, results, wilson
from openpersonalize.store.metadata import MetadataStore, Resource, all_resources
from openpersonalize.store.metadata.series import AttributionSeries

KIND = "experiment"


class ExperimentBook:
    def __init__(self, store: MetadataStore, series: AttributionSeries) -> None:
        self.store, self.series = store, series
        self.on_change: list[Callable[[str], None]] = []  # called with the ARN of a stopped or deleted one

    def list(self, scope: Scope) -> list[Resource]:
        return [e for e in all_resources(self.store, KIND) if scope.owns(e.arn)]

    def get(self, scope: Scope, name: str) -> Resource:
        found = self.store.get(scope.arn(KIND, name))
        if found is None or found.kind != KIND:
            raise ResourceNotFound(f"Experiment {name} does not exist.")
        return found

    def stop(self, experiment: Resource) -> Resource:
        stopped = self.store.update(experiment.arn, status="STOPPED") or experiment
        self._changed(experiment.arn)
        return stopped

    def delete(self, experiment: Resource) -> None:
        self.store.delete(experiment.arn)
        self.series.forget(experiment.arn)
        self._changed(experiment.arn)

    def _changed(self, arn: str) -> None:
        for listener in self.on_change:
            listener(arn)

    def create(self, scope: Scope, given: Any) -> Resource:
        """``given``: {"name", "variants": [{"name", "campaign"|"recommender": name or ARN, "share"}],
        "metricAttributionArn"}; every reference must exist in the caller's account."""
        name = given.get("name") if isinstance(given, dict) else None
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput("name is required: letters, digits, '-' and '_'.")
        variants = []
        for item in given.get("variants") or []:
            item = dict(item) if isinstance(item, dict) else {}
            for kind in ("campaign", "recommender"):
                if item.get(kind):
                    value = str(item.pop(kind))
                    item[f"{kind}Arn"] = value if value.startswith("arn:") else scope.arn(kind, value)
            variants.append(item)
        parsed = parse_variants(variants)
        for variant in parsed:
            found = self.store.get(variant.arn) if scope.owns(variant.arn) else None
            if found is None or found.kind not in ("campaign", "recommender"):
                raise ResourceNotFound(f"variants {variant.name}: {variant.arn} does not exist.")
        attribution = given.get("metricAttributionArn") or None
        if attribution:
            found = self.store.get(attribution) if scope.owns(attribution) else None
            if found is None or found.kind != "metric-attribution":
                raise ResourceNotFound(f"metricAttributionArn {attribution} does not exist.")
        arn = scope.arn(KIND, name)
        if self.store.get(arn) is not None:
            raise ResourceAlreadyExists(f"Experiment {name} already exists.")
        now = time.time()
        self.store.create(Resource(arn=arn, kind=KIND, name=name, status="RUNNING", created=now, updated=now,
                                   attrs={"variants": [v.__dict__ for v in parsed],
                                          "metricAttributionArn": attribution}))  # fmt: skip
        return self.get(scope, name)

    def results(self, experiment: Resource) -> dict[str, Any]:
        """Each variant's answers served and metrics per answer, with the winner when clear."""
        return self._results(self._read(experiment))

    def report(self, experiment: Resource) -> tuple[dict[str, Any], dict[str, Any]]:
        """The results and the timeline, from one read of the series."""
        read = self._read(experiment)
        return self._results(read), self._timeline(read)

    @staticmethod
    def _results(read: _Series) -> dict[str, Any]:
        served = {arn: sum(windows.values()) for arn, windows in read.served.items()}
        totals: dict[str, dict[str, float]] = {name: {} for name in read.functions}
        for (metric, arn), windows in read.metrics.items():
            totals.setdefault(metric, {})[arn] = sum(windows.values())
        return results(read.variants, served, totals, read.functions)

    @staticmethod
    def _timeline(read: _Series) -> dict[str, Any]:
        """Per metric and variant, window by window: the running value per answer served so far
        (with its 95% interval for count metrics), the line a chart draws."""
        rows = [*read.served.values(), *read.metrics.values()]
        out: dict[str, Any] = {"windows": sorted({w for windows in rows for w in windows}), "metrics": {}}
        for metric, function in read.functions.items():
            lines: dict[str, list[dict[str, Any]]] = {}
            for variant in read.variants:
                served = value = 0.0
                line = []
                for window in out["windows"]:
                    served += read.served[variant.arn].get(window, 0.0)
                    value += read.metrics[(metric, variant.arn)].get(window, 0.0)
                    point: dict[str, Any] = {"window": window, "served": served,
                                             "perAnswer": value / served if served else None}  # fmt: skip
                    if function == "samplecount" and served:
                        point["interval"] = list(wilson(value, served))
                    line.append(point)
                lines[variant.name] = line
            out["metrics"][metric] = lines
        return out

    @staticmethod
    def view(experiment: Resource) -> dict[str, Any]:
        return {"name": experiment.name, "experimentArn": experiment.arn, "status": experiment.status,
                "variants": experiment.attrs["variants"], "metricAttributionArn": experiment.attrs.get("metricAttributionArn"),
                "creationDateTime": experiment.created}  # fmt: skip

    # -- the series ---------------------------------------------------------------------------
    def _since(self, experiment: Resource) -> int:
        return int(experiment.created) - int(experiment.created) % WINDOW_SECONDS

    def _functions(self, experiment: Resource) -> tuple[Resource | None, dict[str, str]]:
        attribution = self.store.get(experiment.attrs.get("metricAttributionArn") or "")
        if attribution is None or attribution.kind != "metric-attribution":
            return None, {}
        return attribution, {
            m["metricName"]: function_of(m["expression"]) for m in attribution.attrs["_metrics"]
        }

    def _read(self, experiment: Resource) -> _Series:
        """The experiment's answers served and its metric attribution's sums, window by window."""
        since = self._since(experiment)
        served: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for point in self.series.read(experiment.arn, since, SERVED):
            served[point.source][point.window] += point.value
        metrics: dict[tuple[str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
        attribution, functions = self._functions(experiment)
        if attribution is not None:
            for point in self.series.read(attribution.arn, since):
                metrics[(point.metric_name, point.source)][point.window] += point.value
        return _Series(parse_variants(experiment.attrs["variants"]), served, metrics, functions)


@dataclass(frozen=True)
class _Series:
    variants: tuple[Variant, ...]
    served: dict[str, dict[int, float]]  # variant ARN -> window -> answers served
    metrics: dict[tuple[str, str], dict[int, float]]  # (metric, source ARN) -> window -> sum
    functions: dict[str, str]  # metric -> its function ("samplecount", "sum")
