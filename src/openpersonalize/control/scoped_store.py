"""The metadata store as one caller sees it: only the resources of its account and region.

Every control-plane handler gets this view, so no handler can forget to scope a lookup: an ARN
of another account answers AccessDeniedException, one of another region ResourceNotFound, and
lists and counts see only the caller's resources.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpersonalize.scope import Scope
from openpersonalize.store.metadata import MetadataStore, Page, Resource


class ScopedStore:
    def __init__(self, store: MetadataStore, scope: Scope, action: str) -> None:
        self._store = store
        self.scope = scope
        self.action = action  # the operation, named in AccessDenied messages

    def get(self, arn: str) -> Resource | None:
        self.scope.check(arn, self.action)
        return self._store.get(arn)

    def find(self, kind: str, alt_key: str) -> Resource | None:
        found = self._store.find(kind, alt_key)
        return found if found is not None and self.scope.owns(found.arn) else None

    def update(self, arn: str, **kwargs: Any) -> Resource | None:
        self.scope.check(arn, self.action)
        return self._store.update(arn, **kwargs)

    def delete(self, arn: str) -> bool:
        self.scope.check(arn, self.action)
        return self._store.delete(arn)

    def list(self, kind: str, **filters: Any) -> Page:
        return self._store.list(kind, arn_prefix=self.scope.prefix, **filters)

    def count(self, kind: str, **filters: Any) -> int:
        return self._store.count(kind, arn_prefix=self.scope.prefix, **filters)

    def jobs_for(self, resource_arn: str) -> Iterable[Any]:
        self.scope.check(resource_arn, self.action)
        return self._store.jobs_for(resource_arn)

    def __getattr__(self, name: str) -> Any:
        # create, tags and jobs: the ARNs they take were minted in, or checked against, this scope.
        return getattr(self._store, name)
