"""The ObjectStore contract, run against file:// and a real S3 server (SeaweedFS with SigV4)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.settings import Settings
from openpersonalize.store.objects import ObjectStore
from openpersonalize.store.objects import file as file_store_module
from openpersonalize.store.objects.factory import open_object_store
from openpersonalize.store.objects.file import FileObjectStore
from openpersonalize.store.objects.s3 import S3ObjectStore, parse_s3_url
from tests.fixtures.s3server import S3Server


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "file":
        return open_object_store((tmp_path / "objects").as_uri(), Settings())
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    # A prefix below the bucket root, so the tests also show keys are relative to it.
    return open_object_store(f"s3://{bucket}/root/objects", server.settings())


def test_put_and_get_bytes(store: ObjectStore) -> None:
    store.put_bytes("models/v1/model.bin", b"\x00\x01binary\xff")
    assert store.get_bytes("models/v1/model.bin") == b"\x00\x01binary\xff"
    store.put_bytes("models/v1/model.bin", b"replaced")
    assert store.get_bytes("models/v1/model.bin") == b"replaced"


def test_empty_object(store: ObjectStore) -> None:
    store.put_bytes("empty", b"")
    assert store.exists("empty")
    assert store.get_bytes("empty") == b""


def test_get_missing_key_raises_file_not_found(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        store.get_bytes("nope")
    destination = tmp_path / "out" / "nope.bin"
    with pytest.raises(FileNotFoundError):
        store.get_file("nope", destination)
    assert not destination.exists()


def test_put_file_and_get_file(store: ObjectStore, tmp_path: Path) -> None:
    # Above boto3's 8 MiB multipart threshold, so S3 takes the multipart upload path.
    payload = os.urandom(9 * 1024 * 1024 + 17)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    store.put_file("big/data.bin", source)

    destination = tmp_path / "nested" / "dir" / "copy.bin"
    store.get_file("big/data.bin", destination)
    assert destination.read_bytes() == payload
    assert store.get_bytes("big/data.bin") == payload


def test_exists(store: ObjectStore) -> None:
    assert not store.exists("a/b.txt")
    store.put_bytes("a/b.txt", b"x")
    assert store.exists("a/b.txt")
    # A "folder" is not an object.
    assert not store.exists("a")


def test_list_is_sorted_and_prefix_is_a_plain_string_prefix(store: ObjectStore) -> None:
    for key in ["b/2.csv", "a/1.csv", "a/sub/3.csv", "ab.csv", "a.csv"]:
        store.put_bytes(key, key.encode())
    assert store.list() == ["a.csv", "a/1.csv", "a/sub/3.csv", "ab.csv", "b/2.csv"]
    assert store.list("a/") == ["a/1.csv", "a/sub/3.csv"]
    assert store.list("a") == ["a.csv", "a/1.csv", "a/sub/3.csv", "ab.csv"]
    assert store.list("a/su") == ["a/sub/3.csv"]
    assert store.list("zzz/") == []


def test_delete(store: ObjectStore) -> None:
    store.put_bytes("dir/one", b"1")
    store.put_bytes("dir/two", b"2")
    store.delete("dir/one")
    assert not store.exists("dir/one")
    assert store.list() == ["dir/two"]
    store.delete("dir/one")  # deleting a missing key is not an error
    store.delete("dir/two")
    assert store.list() == []
    assert store.list("dir/") == []


def test_delete_prefix_leaves_other_keys(store: ObjectStore) -> None:
    for key in ["job1/part-0", "job1/sub/part-1", "job10/part-0", "job2/part-0"]:
        store.put_bytes(key, b"x")
    store.delete_prefix("job1/")
    assert store.list() == ["job10/part-0", "job2/part-0"]
    store.delete_prefix("job")
    assert store.list() == []
    store.delete_prefix("job")  # nothing left: still fine


@pytest.mark.parametrize("key", ["", "/abs", "../escape", "a/../../b", "a//b", "a/./b", "dir/", ".."])
def test_invalid_keys_are_rejected(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        store.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="invalid object key"):
        store.get_bytes(key)


@pytest.mark.parametrize("prefix", ["../", "/", "a/../../"])
def test_invalid_prefixes_are_rejected(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(ValueError):
        store.list(prefix)
    with pytest.raises(ValueError):
        store.delete_prefix(prefix)


def test_local_path(store: ObjectStore) -> None:
    store.put_bytes("x/y.bin", b"local?")
    local = store.local_path("x/y.bin")
    if isinstance(store, FileObjectStore):
        assert local is not None and local.read_bytes() == b"local?"
    else:
        assert local is None


# --- file:// specifics -------------------------------------------------------------------------


def test_file_store_layout_and_no_temp_leftovers(tmp_path: Path) -> None:
    store = FileObjectStore((tmp_path / "root").as_uri())
    store.put_bytes("a/b/c.txt", b"abc")
    assert (tmp_path / "root" / "a" / "b" / "c.txt").read_bytes() == b"abc"
    assert [p.name for p in (tmp_path / "root" / "a" / "b").iterdir()] == ["c.txt"]


def test_file_store_failed_write_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileObjectStore((tmp_path / "root").as_uri())
    store.put_bytes("data.csv", b"old")
    source = tmp_path / "new.csv"
    source.write_bytes(b"new content")

    def copy_half_then_fail(src: BinaryIO, dst: BinaryIO) -> None:
        dst.write(src.read(3))
        raise OSError("disk full")

    monkeypatch.setattr(file_store_module.shutil, "copyfileobj", copy_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        store.put_file("data.csv", source)
    assert store.get_bytes("data.csv") == b"old"
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["data.csv"]  # no temp file left


def test_file_store_delete_removes_empty_folders(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = FileObjectStore(root.as_uri())
    store.put_bytes("a/b/c.txt", b"1")
    store.put_bytes("a/keep.txt", b"2")
    store.delete("a/b/c.txt")
    assert not (root / "a" / "b").exists()
    assert (root / "a" / "keep.txt").exists()
    store.delete_prefix("a/")
    assert root.exists() and list(root.iterdir()) == []


def test_file_store_ignores_partial_writes_in_listings(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = FileObjectStore(root.as_uri())
    store.put_bytes("d/done.csv", b"1")
    (root / "d" / ".in-flight.csv.abc123.op-partial").write_bytes(b"half")
    assert store.list() == ["d/done.csv"]


@pytest.mark.parametrize(
    "url", ["file://relative/path", "file://otherhost/abs", "s3://bucket/x", "/abs/path"]
)
def test_file_store_rejects_non_local_urls(url: str) -> None:
    with pytest.raises(ValueError):
        FileObjectStore(url)


def test_file_store_accepts_localhost_and_percent_encoding(tmp_path: Path) -> None:
    root = tmp_path / "with space"
    store = FileObjectStore(f"file://localhost{root.as_posix().replace(' ', '%20')}")
    store.put_bytes("k", b"v")
    assert (root / "k").read_bytes() == b"v"


# --- factory and URL parsing ---------------------------------------------------------------------


def test_factory_picks_the_store_by_scheme(tmp_path: Path) -> None:
    settings = Settings(s3_endpoint_url="http://127.0.0.1:9", s3_access_key_id="k", s3_secret_access_key="s")
    assert isinstance(open_object_store(tmp_path.as_uri(), settings), FileObjectStore)
    s3_store = open_object_store("s3://bucket/some/prefix/", settings)
    assert isinstance(s3_store, S3ObjectStore)
    assert (s3_store.bucket, s3_store.prefix) == ("bucket", "some/prefix/")


@pytest.mark.parametrize("url", ["gs://bucket/x", "/plain/path", "", "http://host/x", "S3://bucket"])
def test_factory_rejects_unknown_schemes(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported object store URL"):
        open_object_store(url, Settings())


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://b/k/ey?v=1#x") == ("b", "k/ey?v=1#x")
    assert parse_s3_url("s3://b") == ("b", "")
    assert parse_s3_url("s3://b/folder/") == ("b", "folder/")
    for bad in ("s3://", "s3:///key", "file:///x", "bucket/key"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)


# --- the S3 server really checks signatures ------------------------------------------------------


@pytest.mark.s3
def test_s3_server_refuses_a_wrong_secret_key(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="k", Body=b"v")
    with pytest.raises(ClientError) as raised:
        s3_server.client(secret_key=s3_server.secret_key + "x").get_object(Bucket=s3_bucket, Key="k")
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    wrong = open_object_store(
        f"s3://{s3_bucket}", s3_server.settings(s3_secret_access_key=s3_server.secret_key + "x")
    )
    with pytest.raises(ClientError):
        wrong.list()


@pytest.mark.s3
def test_s3_server_refuses_unsigned_requests(s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="k", Body=b"secret")
    for url in (f"{s3_server.endpoint_url}/{s3_bucket}/k", f"{s3_server.endpoint_url}/{s3_bucket}"):
        response = httpx.get(url)
        assert response.status_code == 403
        assert b"secret" not in response.content
    assert httpx.put(f"{s3_server.endpoint_url}/{s3_bucket}/new", content=b"x").status_code == 403
    assert "new" not in [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]


@pytest.mark.s3
def test_s3_store_prefix_isolates_keys(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="outside.csv", Body=b"o")
    client.put_object(Bucket=s3_bucket, Key="tenant/a/", Body=b"")  # a folder marker
    store = open_object_store(f"s3://{s3_bucket}/tenant/", s3_server.settings())
    store.put_bytes("a/x.csv", b"x")
    assert store.list() == ["a/x.csv"]
    store.delete_prefix("")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == ["outside.csv"]
