"""Offline evaluation: Personalize's hold-out split and its metric set (GetSolutionMetrics)."""

from openpersonalize.evaluation.metrics import (
    METRIC_NAMES,
    evaluate,
    hit_rate_at,
    ranking_metrics,
    recall_at,
    top_k,
)
from openpersonalize.evaluation.split import Split, split_by_time_leave_last_out, split_users

__all__ = [
    "METRIC_NAMES",
    "Split",
    "evaluate",
    "hit_rate_at",
    "ranking_metrics",
    "recall_at",
    "split_by_time_leave_last_out",
    "split_users",
    "top_k",
]
