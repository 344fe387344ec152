"""Hyperparameter optimisation (``performHPO``): optuna's TPE over a recipe's tunable
hyperparameters, each trial a fit on a validation carve-out of the training users.

``plan`` reads and checks ``solutionConfig.hpoConfig`` (CreateSolution calls it too, so bad
ranges are refused before any training); ``search`` runs the trials in order: this machine's
cores already go to each fit, so ``maxParallelTrainingJobs`` is accepted but trials run one by one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.catalog import hyperparameters_of, read_hyperparameters
from openpersonalize.recipes.spec import HyperParameter, RecipeInfo

DEFAULT_TRIALS = 20  # DescribeAlgorithm's defaultResourceConfig.maxNumberOfTrainingJobs
MAX_TRIALS, MAX_PARALLEL = 40, 10
DEFAULT_OBJECTIVE = "normalized_discounted_cumulative_gain_at_10"
OBJECTIVES = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    *(f"normalized_discounted_cumulative_gain_at_{k}" for k in (5, 10, 25)),
    *(f"precision_at_{k}" for k in (5, 10, 25)),
)
WHERE = "solutionConfig.hpoConfig"
RANGES = "algorithmHyperParameterRanges"
KINDS = {
    "integerHyperParameterRanges": "integer",
    "continuousHyperParameterRanges": "continuous",
    "categoricalHyperParameterRanges": "categorical",
}


@dataclass(frozen=True)
class Dimension:
    name: str
    kind: str  # integer | continuous | categorical
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    dimensions: tuple[Dimension, ...]
    trials: int
    objective: str
    maximize: bool = True


def plan(recipe: RecipeInfo, config: Mapping[str, Any], *, required: bool = True) -> Plan | None:
    """The search ``hpoConfig`` asks for; without ranges, every tunable hyperparameter over its
    default range. Raises InvalidInput naming the member that breaks a rule. A recipe with
    nothing to tune is refused when ``required``, else (AutoML's choice) gives None."""
    declared = hyperparameters_of(recipe)
    tunable = {name: h for name, h in declared.items() if h.tunable}
    ranges = config.get(RANGES) or {}
    given = [_dimension(tunable, key, i, r) for key in KINDS for i, r in enumerate(ranges.get(key) or [])]
    names = [d.name for d in given]
    for name in names:
        if names.count(name) > 1:
            raise InvalidInput(f"{WHERE}.{RANGES} gives more than one range for '{name}'.")
    dimensions = tuple(given) or tuple(_default_dimension(h) for h in tunable.values())
    if not dimensions and not required:
        return None
    if not dimensions:
        raise InvalidInput(f"Recipe {recipe.arn} has no tunable hyperparameters; set performHPO to false.")
    resources = config.get("hpoResourceConfig") or {}
    trials = _count(resources, "maxNumberOfTrainingJobs", DEFAULT_TRIALS, MAX_TRIALS)
    _count(resources, "maxParallelTrainingJobs", 1, MAX_PARALLEL)
    objective = config.get("hpoObjective") or {}
    metric = objective.get("metricName") or DEFAULT_OBJECTIVE
    if metric not in OBJECTIVES:
        raise InvalidInput(
            f"{WHERE}.hpoObjective.metricName must be one of {', '.join(OBJECTIVES)}; got '{metric}'."
        )
    direction = str(objective.get("type") or "Maximize")
    if direction.lower() not in ("maximize", "minimize"):
        raise InvalidInput(f"{WHERE}.hpoObjective.type must be Maximize or Minimize; got '{direction}'.")
    return Plan(dimensions, trials, metric, direction.lower() == "maximize")


def _dimension(tunable: Mapping[str, HyperParameter], key: str, index: int, given: Any) -> Dimension:
    where = f"{WHERE}.{RANGES}.{key}[{index}]"
    name = str(given.get("name") or "")
    h = tunable.get(name)
    if h is None:
        raise InvalidInput(
            f"{where}.name '{name}' is not a tunable hyperparameter of this recipe; "
            f"tunable: {', '.join(sorted(tunable)) or 'none'}."
        )
    kind = KINDS[key]
    expected = "categorical" if h.kind in ("categorical", "boolean") else h.kind
    if kind != expected:
        raise InvalidInput(
            f"{where}: '{name}' is {expected}; give its range in {expected}HyperParameterRanges."
        )
    if kind == "categorical":
        values = tuple(str(v) for v in given.get("values") or ())
        if not values:
            raise InvalidInput(f"{where}.values must not be empty.")
        for value in values:
            h.read(value)  # refuses a value the hyperparameter does not take
        return Dimension(name, kind, choices=values)
    low, high = given.get("minValue"), given.get("maxValue")
    if low is None or high is None:
        raise InvalidInput(f"{where} needs both minValue and maxValue.")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise InvalidInput(f"{where}: the range [{low}, {high}] for '{name}' is empty.")
    if not (h.within(low) and h.within(high)):
        raise InvalidInput(f"{where}: the range [{low}, {high}] for '{name}' must lie {h.bounds()}.")
    return Dimension(name, kind, float(low), float(high), log=h.log and low > 0)


def _default_dimension(h: HyperParameter) -> Dimension:
    if h.kind in ("categorical", "boolean"):
        return Dimension(h.name, "categorical", choices=h.choices)
    low, high = h.search_range
    return Dimension(h.name, h.kind, low, high, log=h.log)


def _count(resources: Mapping[str, Any], name: str, default: int, most: int) -> int:
    raw = resources.get(name)
    if raw is None:
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidInput(f"{WHERE}.hpoResourceConfig.{name} must be an integer; got '{raw}'.") from None
    if not 1 <= value <= most:
        raise InvalidInput(f"{WHERE}.hpoResourceConfig.{name} must be between 1 and {most}; got {value}.")
    return value


# A trial: fit with these params on the validation split, and its metrics.
Validate = Callable[[Mapping[str, str]], dict[str, float]]


def search(
    recipe: RecipeInfo,
    search_plan: Plan,
    params: Mapping[str, str],
    validate: Validate,
    *,
    seed: int = 42,
    progress: Callable[[float], None] = lambda fraction: None,
    on_trial: Callable[[list[dict[str, Any]], int], None] = lambda trials, total: None,
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Run the trials; returns the best trial's hyperparameters (strings, as a solution sets
    them) and every trial (number, params, objective, seconds). Ties keep the earlier trial."""
    import optuna  # only trainings that search pay for importing it

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if search_plan.maximize else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    trials: list[dict[str, Any]] = []
    for number in range(search_plan.trials):
        trial = study.ask()
        tried = {d.name: _suggest(trial, d) for d in search_plan.dimensions}
        candidate = {**params, **tried}
        read_hyperparameters(recipe, candidate)
        started = time.perf_counter()
        metrics = validate(candidate)
        objective = float(metrics.get(search_plan.objective, 0.0))
        study.tell(trial, objective)
        trials.append(
            {
                "number": number,
                "params": tried,
                "objective": objective,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        on_trial(trials, search_plan.trials)
        progress((number + 1) / search_plan.trials)
    sign = 1.0 if search_plan.maximize else -1.0
    best = max(trials, key=lambda t: (sign * t["objective"], -t["number"]))
    return dict(best["params"]), trials


def _suggest(trial: Any, d: Dimension) -> str:
    if d.kind == "categorical":
        return str(trial.suggest_categorical(d.name, list(d.choices)))
    if d.kind == "integer":
        return str(trial.suggest_int(d.name, int(d.low), int(d.high), log=d.log))
    value = trial.suggest_float(d.name, d.low, d.high, log=d.log)
    return f"{value:.6g}"
