"""Object store on S3 or an S3-compatible server: ``s3://bucket/prefix``.

The endpoint, region and credentials come from Settings (``s3_*``); without explicit keys boto3's
default credential chain applies (env vars, profiles, instance roles). Path-style addressing is
used because S3-compatible servers (SeaweedFS, MinIO) on a plain host:port need it.
Missing keys raise FileNotFoundError, as the file store does.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from openpersonalize.settings import Settings
from openpersonalize.store.objects.file import validate_key, validate_prefix

S3Client = Any  # boto3 ships no static types for its clients

# DeleteObjects takes at most this many keys per request.
_DELETE_BATCH = 1000
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> ("bucket", "some/key"); the key part may be empty.

    Split by hand rather than with urlparse, which would cut '?' and '#' (legal in keys) off.
    """
    scheme, separator, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme != "s3" or not separator or not bucket:
        raise ValueError(f"not an s3://bucket/... URL: {url!r}")
    return bucket, key


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client for these settings (cached: clients are thread-safe and costly to build)."""
    return _cached_client(
        os.getpid(),  # a forked child must not share the parent's connection pool
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
    )


@functools.lru_cache(maxsize=8)
def _cached_client(
    _pid: int, endpoint_url: str, region: str, access_key_id: str, secret_key: str
) -> S3Client:
    credentials: dict[str, str] = {}
    if access_key_id:
        credentials = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_key}
    # A private session: boto3's default session is not safe to share between threads.
    session = boto3.session.Session(region_name=region or None, **credentials)
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=32,
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


def is_missing_key(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _MISSING_KEY_CODES


class S3ObjectStore:
    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.bucket, prefix = parse_s3_url(url)
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = s3_client(settings)

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.url!r})"

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            raise self._not_found(key, error) from error
        with response["Body"] as body:
            data: bytes = body.read()
        return data

    def put_file(self, key: str, path: Path) -> None:
        # upload_file switches to parallel multipart uploads for large files.
        self.client.upload_file(str(path), self.bucket, self._key(key))

    def get_file(self, key: str, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Streams to a temp name beside `path` and renames it at the end.
            self.client.download_file(self.bucket, self._key(key), str(path))
        except ClientError as error:
            raise self._not_found(key, error) from error

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if is_missing_key(error):
                return False
            raise
        return True

    def list(self, prefix: str = "") -> list[str]:
        full_prefix = self.prefix + validate_prefix(prefix)
        keys = [obj_key[len(self.prefix) :] for obj_key in self._iter_object_keys(full_prefix)]
        return sorted(key for key in keys if key and not key.endswith("/"))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> None:
        full_prefix = self.prefix + validate_prefix(prefix)
        batch: list[str] = []
        for obj_key in self._iter_object_keys(full_prefix):
            batch.append(obj_key)
            if len(batch) == _DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def local_path(self, key: str) -> Path | None:
        return None

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _iter_object_keys(self, full_prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"]

    def _delete_batch(self, keys: Sequence[str]) -> None:
        response = self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise OSError(
                f"could not delete {len(errors)} object(s) from s3://{self.bucket}: "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )

    def _not_found(self, key: str, error: ClientError) -> Exception:
        if is_missing_key(error):
            return FileNotFoundError(f"no object {key!r} in {self.url}")
        return error
