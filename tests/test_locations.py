"""Import data locations (dataSource.dataLocation) on file:// and on a real S3 server."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from openpersonalize import errors
from openpersonalize.data.locations import (
    DataFile,
    list_data_files,
    open_data_file,
    validate_location_syntax,
)
from openpersonalize.settings import Settings
from openpersonalize.store.objects.s3 import parse_s3_url, s3_client
from tests.fixtures.s3server import S3Server


@dataclass
class Backend:
    """Writes files where a location can name them, and builds that location."""

    name: str
    settings: Settings
    location: Callable[[str], str]  # relative path ('' for the root, 'x/' for a folder) -> URL
    write: Callable[[str, bytes], None]
    file_name: Callable[[str], str]  # relative path -> DataFile.name


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        root = tmp_path / "data"
        root.mkdir()

        def write_local(relative: str, data: bytes) -> None:
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        return Backend(
            name="file",
            settings=Settings(file_roots=str(tmp_path), data_dir=tmp_path / "server-data"),
            location=lambda relative: root.as_uri() + "/" + relative,
            write=write_local,
            file_name=lambda relative: str(root / relative),
        )
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    client = server.client()
    return Backend(
        name="s3",
        settings=server.settings(),
        location=lambda relative: f"s3://{bucket}/{relative}",
        write=lambda relative, data: client.put_object(Bucket=bucket, Key=relative, Body=data),
        file_name=lambda relative: relative,
    )


def read_all(location: str, files: list[DataFile], settings: Settings) -> list[bytes]:
    contents = []
    for data_file in files:
        with open_data_file(location, data_file, settings) as path:
            contents.append(Path(path).read_bytes())
    return contents


def test_single_file(backend: Backend) -> None:
    backend.write("imports/interactions.csv", b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n")
    backend.write("imports/other.csv", b"not this one")
    location = backend.location("imports/interactions.csv")

    files = list_data_files(location, backend.settings)

    assert files == [DataFile(name=backend.file_name("imports/interactions.csv"), size=34)]
    assert read_all(location, files, backend.settings) == [b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\n"]


def test_folder_lists_every_file_recursively_in_key_order(backend: Backend) -> None:
    backend.write("batch/part-b.csv", b"b")
    backend.write("batch/part-a.csv", b"a")
    backend.write("batch/2024/01/part-c.csv", b"c")
    backend.write("batch/empty.csv", b"")
    backend.write("batchmates/not-in-folder.csv", b"x")
    backend.write("outside.csv", b"x")
    if backend.name == "s3":
        backend.write("batch/2024/", b"")  # a console-made folder marker
    location = backend.location("batch/")

    files = list_data_files(location, backend.settings)

    relative = ["batch/2024/01/part-c.csv", "batch/part-a.csv", "batch/part-b.csv"]
    assert files == [DataFile(name=backend.file_name(r), size=1) for r in relative]
    assert read_all(location, files, backend.settings) == [b"c", b"a", b"b"]


def test_large_file_is_streamed_to_a_temporary_copy(backend: Backend) -> None:
    payload = os.urandom(6 * 1024 * 1024)
    backend.write("big/ratings.csv.gz", payload)
    location = backend.location("big/ratings.csv.gz")
    [data_file] = list_data_files(location, backend.settings)
    assert data_file.size == len(payload)

    with open_data_file(location, data_file, backend.settings) as path:
        local = Path(path)
        assert local.name == "ratings.csv.gz"
        assert local.read_bytes() == payload
    if backend.name == "s3":
        assert not local.exists()  # the temporary copy is gone with the context
    else:
        assert local.exists()  # a local file is used in place and never deleted


def test_missing_file(backend: Backend) -> None:
    backend.write("here.csv", b"x")
    with pytest.raises(errors.DataError, match=r"^Invalid Data location\..*does not exist"):
        list_data_files(backend.location("not-here.csv"), backend.settings)


def test_empty_or_missing_folder(backend: Backend) -> None:
    backend.write("folder/empty.csv", b"")
    for relative in ("folder/", "no-such-folder/"):
        with pytest.raises(errors.DataError, match=r"^Invalid Data location\."):
            list_data_files(backend.location(relative), backend.settings)


def test_folder_named_without_trailing_slash(backend: Backend) -> None:
    backend.write("folder/a.csv", b"a")
    with pytest.raises(errors.DataError, match=r"^Invalid Data location\..*end the location with '/'"):
        list_data_files(backend.location("folder"), backend.settings)


def test_file_deleted_between_listing_and_reading(backend: Backend) -> None:
    backend.write("gone.csv", b"x")
    location = backend.location("gone.csv")
    [data_file] = list_data_files(location, backend.settings)
    if backend.name == "s3":
        bucket, key = parse_s3_url(location)
        s3_client(backend.settings).delete_object(Bucket=bucket, Key=key)
    else:
        Path(data_file.name).unlink()
    with (
        pytest.raises(errors.DataError, match=r"^Invalid Data location\."),
        open_data_file(location, data_file, backend.settings),
    ):
        pass


# --- S3 specifics --------------------------------------------------------------------------------


@pytest.mark.s3
@pytest.mark.parametrize("key", ["data.csv", "folder/"])
def test_s3_missing_bucket(s3_server: S3Server, key: str) -> None:
    with pytest.raises(errors.DataError, match=r"^Invalid Data location\. Bucket 'op-no-such-bucket'"):
        list_data_files(f"s3://op-no-such-bucket/{key}", s3_server.settings())


@pytest.mark.s3
def test_s3_wrong_credentials_are_a_data_error(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="a.csv", Body=b"a")
    settings = s3_server.settings(s3_secret_access_key="wrong-secret")
    for location in (f"s3://{s3_bucket}/a.csv", f"s3://{s3_bucket}/"):
        with pytest.raises(errors.DataError, match=r"^Invalid Data location\. Access to .* was denied"):
            list_data_files(location, settings)


@pytest.mark.s3
def test_s3_whole_bucket(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="z.csv", Body=b"z")
    client.put_object(Bucket=s3_bucket, Key="a/b.csv", Body=b"ab")
    for location in (f"s3://{s3_bucket}/", f"s3://{s3_bucket}"):
        files = list_data_files(location, s3_server.settings())
        assert files == [DataFile("a/b.csv", 2), DataFile("z.csv", 1)]


# --- file:// specifics and syntax ----------------------------------------------------------------


@pytest.mark.parametrize("location", ["file://relative/data.csv", "file://some-host/abs/data.csv"])
def test_file_location_must_be_a_local_absolute_path(location: str) -> None:
    with pytest.raises(errors.DataError, match=r"^Invalid Data location\."):
        list_data_files(location, Settings())


@pytest.mark.parametrize("location", ["https://example.com/data.csv", "http://host/bucket/key.csv"])
def test_http_locations_pass_syntax_but_cannot_be_read(location: str) -> None:
    validate_location_syntax(location)
    with pytest.raises(errors.DataError, match=r"^Invalid Data location\. Only s3:// and file://"):
        list_data_files(location, Settings())


@pytest.mark.parametrize(
    "location",
    ["s3://bucket/key.csv", "s3://bucket/folder/", "s3://b", "file:///abs/x.csv", "https://h/p"],
)
def test_valid_location_syntax(location: str) -> None:
    validate_location_syntax(location)


@pytest.mark.parametrize(
    "location",
    ["", "bucket/key.csv", "s3://", "s3:/bucket/key", "ftp://host/x", "S3://bucket/key", " s3://b/k"],
)
def test_invalid_location_syntax(location: str) -> None:
    with pytest.raises(errors.InvalidInput):
        validate_location_syntax(location)
