"""Where jobs write their results: batch inference and segment outputs, dataset exports.

An output location is a folder, ``s3://bucket/prefix/`` or ``file:///abs/folder/`` (a trailing
'/' is implied). Each file is written whole or not at all, so a reader never sees half of one:
a local file goes to a hidden temporary name in the same folder and is renamed into place; an S3
object becomes visible only once its upload completes. file:// folders must lie under the file
roots, as data locations do (data/file_roots.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

from openpersonalize import errors
from openpersonalize.data.file_roots import FileRoots
from openpersonalize.data.locations import check_location_allowed, validate_location_syntax
from openpersonalize.settings import Settings
from openpersonalize.store.objects.file import path_from_file_url
from openpersonalize.store.objects.s3 import parse_s3_url, s3_client

_INVALID = "Invalid output location."


def folder(location: str) -> str:
    return location if location.endswith("/") else location + "/"


def check_output_location(location: str, settings: Settings, *, member: str, not_under: str = "") -> None:
    """Request-time checks of an output folder (InvalidInput naming ``member``)."""
    try:
        validate_location_syntax(location)
        check_location_allowed(location, settings)
    except errors.InvalidInput as error:
        raise errors.InvalidInput(f"{member}: {error}") from None
    if location.partition("://")[0] not in ("s3", "file"):
        raise errors.InvalidInput(
            f"{member}: only s3:// and file:// locations can be written, not {location!r}."
        )
    if not_under and folder(location).startswith(folder(not_under)):
        raise errors.InvalidInput(
            f"Invalid S3 output path {location}: {member} must differ from the input location {not_under}."
        )


def write_file(location: str, name: str, source: Path, settings: Settings) -> str:
    """Put the local file ``source`` at ``<location>/<name>`` atomically; returns where it went."""
    target = folder(location) + name
    if location.startswith("s3://"):
        bucket, key = parse_s3_url(target)
        try:
            s3_client(settings).upload_file(str(source), bucket, key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            raise errors.DataError(f"{_INVALID} Could not write {target}: {code}.") from error
        except Exception as error:  # boto3's transfer manager wraps the client error
            raise errors.DataError(f"{_INVALID} Could not write {target}: {error}.") from error
        return target
    try:
        path = FileRoots.from_settings(settings).check(path_from_file_url(target))
    except ValueError as error:
        raise errors.DataError(f"{_INVALID} {error}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as data:
                shutil.copyfileobj(data, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise errors.DataError(f"{_INVALID} Could not write {target}: {error.strerror or error}.") from None
    return target
