"""Open the object store a URL names: ``file:///abs/path`` or ``s3://bucket/prefix``."""

from __future__ import annotations

from openpersonalize.settings import Settings
from openpersonalize.store.objects import ObjectStore
from openpersonalize.store.objects.file import FileObjectStore
from openpersonalize.store.objects.s3 import S3ObjectStore


def open_object_store(url: str, settings: Settings) -> ObjectStore:
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme == "file":
        return FileObjectStore(url)
    if scheme == "s3":
        return S3ObjectStore(url, settings)
    raise ValueError(
        f"unsupported object store URL {url!r}: expected file:///absolute/path or s3://bucket/prefix"
    )
