"""Data locations of import (and data-deletion) jobs: ``dataSource.dataLocation``.

A location names one file or, with a trailing '/', every file below a folder (recursively):

    s3://bucket/path/file.csv      s3://bucket/folder/
    file:///abs/path/file.csv      file:///abs/folder/        (our extension for local data)

file:// locations must lie under the configured file roots (data/file_roots.py). Folders skip
"folder marker" keys, empty files and hidden files, and list files in key order so imports are
repeatable. Everything that makes a location unreadable is a DataError whose message starts
with AWS's failureReason ``Invalid Data location.``
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from botocore.exceptions import ClientError

from openpersonalize import errors
from openpersonalize.data.file_roots import FileRoots, PathNotAllowed
from openpersonalize.settings import Settings
from openpersonalize.store.objects.file import path_from_file_url
from openpersonalize.store.objects.s3 import S3Client, is_missing_key, parse_s3_url, s3_client

# The S3Location pattern of the API model, plus file:// for local data.
_LOCATION_PATTERN = re.compile(r"(s3|http|https|file)://.+")
_INVALID = "Invalid Data location."


@dataclass(frozen=True)
class DataFile:
    name: str  # the S3 key or the local path; error messages quote it
    size: int


def validate_location_syntax(location: str) -> None:
    """Request-time check; whether anything is there is only known when the job runs."""
    if not isinstance(location, str) or not _LOCATION_PATTERN.fullmatch(location):
        raise errors.InvalidInput(
            f"Invalid data location {location!r}: expected s3://bucket/key, s3://bucket/folder/ "
            "or file:///absolute/path."
        )


def check_location_allowed(location: str, settings: Settings) -> None:
    """Request-time check of a file:// location against the file roots (InvalidInput if refused)."""
    if location.partition("://")[0] != "file":
        return
    try:
        FileRoots.from_settings(settings).check(path_from_file_url(location))
    except ValueError as error:  # PathNotAllowed, or a URL that names no local path
        raise errors.InvalidInput(f"Invalid data location {location!r}: {error}") from None


def list_data_files(location: str, settings: Settings) -> list[DataFile]:
    """The files a location names, in order; DataError when there are none or it is unreadable."""
    scheme = location.partition("://")[0]
    if scheme == "s3":
        return _list_s3(location, settings)
    if scheme == "file":
        return _list_local(location, FileRoots.from_settings(settings))
    raise errors.DataError(f"{_INVALID} Only s3:// and file:// locations can be read, not {location!r}.")


@contextlib.contextmanager
def open_data_file(location: str, data_file: DataFile, settings: Settings) -> Iterator[Path]:
    """A local path holding the file's bytes while the context lasts.

    Local files are used in place; S3 objects are streamed to a temporary file (not memory), which
    keeps the key's base name so that suffixes such as .gz still tell what the file is.
    """
    scheme = location.partition("://")[0]
    if scheme == "file":
        path = _allowed(FileRoots.from_settings(settings), Path(data_file.name))
        if not path.is_file():
            raise errors.DataError(f"{_INVALID} {data_file.name} no longer exists.")
        yield path
        return
    if scheme != "s3":
        raise errors.DataError(f"{_INVALID} Only s3:// and file:// locations can be read, not {location!r}.")
    bucket, _ = _parse_s3(location)
    with tempfile.TemporaryDirectory(prefix="op-data-") as temp_dir:
        local = Path(temp_dir) / (PurePosixPath(data_file.name).name or "data")
        try:
            s3_client(settings).download_file(bucket, data_file.name, str(local))
        except ClientError as error:
            raise _s3_data_error(error, bucket, data_file.name) from error
        yield local


def _parse_s3(location: str) -> tuple[str, str]:
    try:
        return parse_s3_url(location)
    except ValueError:
        raise errors.DataError(f"{_INVALID} {location!r} names no bucket.") from None


def _list_s3(location: str, settings: Settings) -> list[DataFile]:
    bucket, key = _parse_s3(location)
    client = s3_client(settings)
    if not key or key.endswith("/"):
        files = _list_s3_folder(client, bucket, key)
        if not files:
            raise errors.DataError(f"{_INVALID} No data files found in {location}.")
        return files
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_missing_key(error):
            if not _bucket_exists(client, bucket):
                raise errors.DataError(f"{_INVALID} Bucket {bucket!r} does not exist.") from error
            if _s3_folder_has_files(client, bucket, key + "/"):
                raise errors.DataError(
                    f"{_INVALID} {location} does not exist; to import the folder, end the location with '/'."
                ) from error
        raise _s3_data_error(error, bucket, key) from error
    return [DataFile(name=key, size=int(head["ContentLength"]))]


def _list_s3_folder(client: S3Client, bucket: str, prefix: str) -> list[DataFile]:
    paginator = client.get_paginator("list_objects_v2")
    files: list[DataFile] = []
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/") or int(obj["Size"]) == 0:
                    continue  # folder markers and empty objects hold no rows
                files.append(DataFile(name=obj["Key"], size=int(obj["Size"])))
    except ClientError as error:
        raise _s3_data_error(error, bucket, prefix) from error
    return sorted(files, key=lambda f: f.name)


def _s3_folder_has_files(client: S3Client, bucket: str, prefix: str) -> bool:
    """Only for a hint in an error message, so one page is enough."""
    try:
        page = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=20)
    except ClientError:
        return False
    return any(not obj["Key"].endswith("/") for obj in page.get("Contents", []))


def _s3_data_error(error: ClientError, bucket: str, key: str) -> errors.DataError:
    code = str(error.response.get("Error", {}).get("Code", ""))
    where = f"s3://{bucket}/{key}"
    if code == "NoSuchBucket":
        return errors.DataError(f"{_INVALID} Bucket {bucket!r} does not exist.")
    if is_missing_key(error):
        return errors.DataError(f"{_INVALID} {where} does not exist.")
    if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return errors.DataError(f"{_INVALID} Access to {where} was denied ({code}).")
    message = error.response.get("Error", {}).get("Message", "")
    return errors.DataError(f"{_INVALID} Could not read {where}: {code} {message}".rstrip())


def _bucket_exists(client: S3Client, bucket: str) -> bool:
    # A HEAD has no error body, so a missing bucket and a missing key are both a bare 404 there.
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        return str(error.response.get("Error", {}).get("Code", "")) not in ("404", "NoSuchBucket", "NotFound")
    return True


def _allowed(roots: FileRoots, path: Path) -> Path:
    try:
        return roots.check(path)
    except PathNotAllowed as error:
        raise errors.DataError(f"{_INVALID} {error}") from None


def _list_local(location: str, roots: FileRoots) -> list[DataFile]:
    try:
        given = path_from_file_url(location)
    except ValueError as error:
        raise errors.DataError(f"{_INVALID} {error}") from None
    root = _allowed(roots, given)
    if location.endswith("/"):
        if not root.is_dir():
            raise errors.DataError(f"{_INVALID} Folder {given} does not exist.")
        found = (
            path
            for path in root.rglob("*")
            if not any(part.startswith(".") for part in path.relative_to(root).parts)
        )
        files = sorted(
            (
                DataFile(name=str(path), size=path.stat().st_size)
                for path in found
                if _allowed(roots, path).is_file()
            ),
            key=lambda f: f.name,
        )
        files = [f for f in files if f.size > 0]
        if not files:
            raise errors.DataError(f"{_INVALID} No data files found in {location}.")
        return files
    if root.is_dir():
        raise errors.DataError(f"{_INVALID} {given} is a folder; to import it, end the location with '/'.")
    if not root.exists():
        raise errors.DataError(f"{_INVALID} {given} does not exist.")
    if not root.is_file():
        raise errors.DataError(f"{_INVALID} {given} is not a regular file.")
    return [DataFile(name=str(root), size=root.stat().st_size)]
