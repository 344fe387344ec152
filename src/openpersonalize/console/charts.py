"""Chart.js configurations, built here so templates only place them (``data-chart`` on a canvas,
drawn by static/console.js). Times arrive as epoch seconds and leave as UTC labels."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")


def clock(seconds: float, *, with_day: bool = False) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%m-%d %H:%M" if with_day else "%H:%M")


def line(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    y_title: str,
    *,
    bands: Mapping[str, tuple[Sequence[float | None], Sequence[float | None]]] | None = None,  # fmt: skip
) -> dict[str, Any]:
    """One line per series; ``bands`` (name -> lower, upper) shade an interval around its line."""
    datasets: list[dict[str, Any]] = []
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        datasets.append({"label": name, "data": list(values), "borderColor": colour, "backgroundColor": colour,
                         "cubicInterpolationMode": "monotone", "spanGaps": True, "pointRadius": 2})  # fmt: skip
        if bands and name in bands:
            lower, upper = bands[name]
            edge = {"borderWidth": 0, "pointRadius": 0, "spanGaps": True, "borderColor": "transparent"}
            datasets.append({"label": f"{name} 95% low", "data": list(lower), **edge, "fill": False})
            datasets.append({"label": f"{name} 95% high", "data": list(upper), **edge, "fill": "-1",
                             "backgroundColor": colour + "33"})  # fmt: skip
    return _config("line", labels, datasets, y_title)


def bars(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], y_title: str) -> dict[str, Any]:
    datasets = [
        {"label": name, "data": list(values), "backgroundColor": PALETTE[i % len(PALETTE)]}
        for i, (name, values) in enumerate(series.items())
    ]
    return _config("bar", labels, datasets, y_title)


def _config(kind: str, labels: Sequence[str], datasets: list[dict[str, Any]], y_title: str) -> dict[str, Any]:
    return {
        "type": kind,
        "data": {"labels": list(labels), "datasets": datasets},
        "options": {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"labels": {"filter": "hide-bands"}}},
            "scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": y_title}}},
        },
    }
