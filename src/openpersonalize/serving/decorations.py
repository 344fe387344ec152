"""Item metadata in answers (``metadataColumns``, spec §15): checked against the campaign and the
Items schema, read from the same attributes filters read (PutItems changes show at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from openpersonalize.errors import InvalidInput
from openpersonalize.recipes.catalog import RecipeInfo
from openpersonalize.serving.attributes import AttributeStore
from openpersonalize.serving.filtering import Scene

MAX_COLUMNS = 10


class Answering(Protocol):
    """What answers a request (serving/runtime.Target)."""

    @property
    def arn(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def recipe(self) -> RecipeInfo: ...
    @property
    def scene(self) -> Scene: ...


class Decorations:
    def __init__(self, attributes: AttributeStore) -> None:
        self.attributes = attributes

    def columns(self, target: Answering, requested: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
        """The Items columns the request asks for, after AWS's checks (empty when none)."""
        if not requested:
            return ()
        unknown = sorted(set(requested) - {"ITEMS"})
        if unknown:
            raise InvalidInput(f"metadataColumns may only name the ITEMS dataset; got {', '.join(unknown)}.")
        columns = tuple(dict.fromkeys(requested.get("ITEMS", ())))
        if not columns:
            return ()
        if len(columns) > MAX_COLUMNS:
            raise InvalidInput(
                f"metadataColumns.ITEMS can name at most {MAX_COLUMNS} columns; got {len(columns)}."
            )
        enabled = target.config.get("enableMetadataWithRecommendations")
        if not enabled and not target.recipe.metadata_always:
            raise InvalidInput(
                f"{target.label} {target.arn} does not return item metadata: set "
                f"{'recommenderConfig' if target.label == 'Recommender' else 'campaignConfig'}"
                ".enableMetadataWithRecommendations to true "
                f"({'UpdateRecommender' if target.label == 'Recommender' else 'UpdateCampaign'}) to use "
                "metadataColumns."
            )
        items = target.scene.datasets.get("ITEMS")
        if items is None:
            raise InvalidInput(
                "metadataColumns needs an Items dataset in the campaign's dataset group; it has none."
            )
        names = self.attributes.of(items).columns  # the schema's, read once per dataset
        missing = [c for c in columns if c not in names]
        if missing:
            raise InvalidInput(
                f"metadataColumns.ITEMS names {', '.join(missing)}, which the Items schema does not "
                f"have (its columns: {', '.join(sorted(names))})."
            )
        return columns

    def metadata(
        self, scene: Scene, item_ids: list[str], columns: tuple[str, ...]
    ) -> list[dict[str, str]] | None:
        """Each item's values of ``columns`` (None when the request asked for no metadata)."""
        if not columns:
            return None
        items = scene.datasets["ITEMS"]
        return self.attributes.of(items).metadata(item_ids, columns)
