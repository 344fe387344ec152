"""The typed recipe spec: what the catalogue declares once for each recipe.

A recipe's hyperparameters (type, default, allowed range, HPO range) are declared here and read
here, for CreateSolution's checks, for training and for HPO alike; the class that trains it is
named as ``"module:Class"`` and imported only when a training or a model load needs it, so
serving never imports torch for a model that does not use it.

Pure data and string parsing (no numpy), so the control plane can import it cheaply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from openpersonalize.errors import InvalidInput

RECIPE_ARN = "arn:aws:personalize:::recipe/{}"
ALGORITHM_ARN = "arn:aws:personalize:::algorithm/{}"
TRANSFORM_ARN = "arn:aws:personalize:::feature-transformation/{}"
ALGORITHM = "algorithmHyperParameters"
FEATURIZATION = "featureTransformationParameters"
BOOLEAN_VALUES = ("true", "false")


@dataclass(frozen=True)
class HyperParameter:
    name: str
    default: str
    kind: str = "integer"  # integer | continuous | categorical | boolean (shown as categorical)
    low: float | None = None  # allowed range (inclusive); None = unbounded
    high: float | None = None
    values: tuple[str, ...] = ()  # categorical choices
    tunable: bool = True  # HPO may search it (DescribeAlgorithm's isTunable)
    section: str = ALGORITHM
    public: bool = True  # declared by Personalize; ours are honoured but not listed
    search: tuple[float, float] | None = None  # HPO range when narrower than [low, high]
    log: bool = False  # HPO samples it on a log scale

    @property
    def choices(self) -> tuple[str, ...]:
        return BOOLEAN_VALUES if self.kind == "boolean" else self.values

    @property
    def search_range(self) -> tuple[float, float]:
        if self.search is not None:
            return self.search
        assert self.low is not None and self.high is not None, f"{self.name} has no HPO range"
        return self.low, self.high

    def read(self, raw: object | None) -> Any:
        """The typed value of ``raw`` (Personalize passes strings), or the default when None."""
        text = self.default if raw is None else str(raw).strip()
        where = f"solutionConfig.{self.section}.{self.name}"
        if self.kind in ("categorical", "boolean"):
            match = {v.lower(): v for v in self.choices}.get(text.lower())
            if match is None:
                raise InvalidInput(f"{where} must be one of {', '.join(self.choices)}; got '{text}'.")
            return match == "true" if self.kind == "boolean" else match
        try:
            value: float = int(text) if self.kind == "integer" else float(text)
        except ValueError:
            kind = "an integer" if self.kind == "integer" else "a number"
            raise InvalidInput(f"{where} must be {kind}; got '{text}'.") from None
        if not math.isfinite(value) or not self.within(value):
            raise InvalidInput(f"{where} must be {self.bounds()}; got {text}.")
        return value

    def within(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def bounds(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"at least {self.low:g}"
        if self.high is not None:
            return f"at most {self.high:g}"
        return "a finite number"


@dataclass(frozen=True)
class RecipeInfo:
    name: str
    recipe_type: str
    description: str
    algorithm: str
    transformation: str | None = None
    hyperparameters: tuple[HyperParameter, ...] = ()
    domain: str | None = None
    # The class that trains it ("module:Class"), or the catalogue entry whose class does.
    implementation: str | None = None
    trained_by: str | None = None
    # When it cannot train here: the recipe that does the same job (named in the error).
    replaced_by: str | None = None
    legacy: bool = False
    # How serving answers for it (spec §15): whether results carry a score, whether a
    # GetRecommendations needs a userId, whether item metadata comes without the campaign flag.
    scored: bool = True
    needs_user: bool = True
    metadata_always: bool = False
    needs_interactions: bool = True  # Semantic-Similarity trains on the Items alone
    explores: bool = False  # gives list slots to cold items (itemExplorationConfig)
    reasons: bool = False  # answers say why an item is there (v2: "Promoted item", "Exploration")

    @property
    def arn(self) -> str:
        return RECIPE_ARN.format(self.name)

    @property
    def algorithm_arn(self) -> str:
        return ALGORITHM_ARN.format(self.algorithm)

    @property
    def transformation_arn(self) -> str | None:
        return TRANSFORM_ARN.format(self.transformation) if self.transformation else None

    @property
    def trainer(self) -> str | None:
        """Name of the catalogue entry whose implementation trains this recipe."""
        return self.name if self.implementation else self.trained_by

    def public(self, section: str) -> tuple[HyperParameter, ...]:
        return tuple(h for h in self.hyperparameters if h.public and h.section == section)


def declared(recipe: RecipeInfo, trainer: RecipeInfo | None) -> dict[str, HyperParameter]:
    """Every hyperparameter a solution of ``recipe`` may set: the trainer's, then its own."""
    found = {h.name: h for h in (trainer.hyperparameters if trainer else ())}
    found.update({h.name: h for h in recipe.hyperparameters})
    return found


def read_values(
    hyperparameters: Mapping[str, HyperParameter], params: Mapping[str, object]
) -> dict[str, Any]:
    """Typed values of every declared hyperparameter; raises InvalidInput naming a bad one.

    Names that are not declared are ignored, as Personalize ignores them. A ``min_X`` / ``max_X``
    pair must be in order."""
    values = {name: h.read(params.get(name)) for name, h in hyperparameters.items()}
    for name, low in values.items():
        high_name = "max_" + name.removeprefix("min_")
        if name.startswith("min_") and high_name in values and low > values[high_name]:
            section = hyperparameters[name].section
            raise InvalidInput(
                f"solutionConfig.{section}.{name} ({low:g}) must not be greater than {high_name} "
                f"({values[high_name]:g})."
            )
    return values


def solution_params(config: Mapping[str, Any]) -> dict[str, str]:
    """The hyperparameters a solutionConfig sets, featurization and algorithm together."""
    return {**(config.get(FEATURIZATION) or {}), **(config.get(ALGORITHM) or {})}
