"""Object store on the local filesystem: ``file:///absolute/path``.

Each key is a file below the root directory. Writes are atomic (temp file in the target
directory, fsync, rename), so a reader never sees a half-written object, even after a crash.
Missing keys raise FileNotFoundError, as the S3 store does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

# Temp files carry this suffix so listings never report an object that is still being written.
_TEMP_SUFFIX = ".op-partial"


def validate_key(key: str) -> str:
    """The key itself if it is a safe '/'-separated relative path; ValueError otherwise."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise ValueError(
            f"invalid object key {key!r}: must be a non-empty relative path without a trailing '/'"
        )
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts) or "\0" in key:
        raise ValueError(f"invalid object key {key!r}: empty, '.' and '..' segments are not allowed")
    if key.endswith(_TEMP_SUFFIX):
        raise ValueError(f"invalid object key {key!r}: the suffix {_TEMP_SUFFIX!r} is reserved")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: '' or the start of a key (it may end in '/', but may not escape the root)."""
    if prefix:
        validate_key(prefix.rstrip("/") or "/")
    return prefix


def path_from_file_url(url: str) -> Path:
    """The absolute local path of a ``file:///abs/path`` URL (host must be empty or localhost)."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ValueError(f"not a file:// URL: {url!r}")
    if parsed.netloc not in ("", "localhost"):
        raise ValueError(f"file:// URL {url!r} names host {parsed.netloc!r}; only local paths are supported")
    path = unquote(parsed.path)
    if not path.startswith("/"):
        raise ValueError(f"file:// URL {url!r} must hold an absolute path (file:///abs/path)")
    return Path(path)


class FileObjectStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.root = path_from_file_url(url)

    def __repr__(self) -> str:
        return f"FileObjectStore({self.url!r})"

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomically(self._path(key), lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        return self._existing_path(key).read_bytes()

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as source:
            self._write_atomically(self._path(key), lambda out: shutil.copyfileobj(source, out))

    def get_file(self, key: str, path: Path) -> None:
        with open(self._existing_path(key), "rb") as source:
            self._write_atomically(Path(path), lambda out: shutil.copyfileobj(source, out))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        return sorted(self._iter_keys(validate_prefix(prefix)))

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._prune_empty_dirs(path.parent)

    def delete_prefix(self, prefix: str) -> None:
        for key in self.list(prefix):
            self.delete(key)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _existing_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.url}")
        return path

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        # Walk only the deepest directory the prefix names: 'a/b/c' lists below root/a/b.
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*directory.split("/")) if directory else self.root
        for dirpath, _dirnames, filenames in os.walk(start):
            relative_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.endswith(_TEMP_SUFFIX):
                    continue
                key = name if relative_dir == "." else f"{relative_dir}/{name}"
                if key.startswith(prefix):
                    yield key

    def _prune_empty_dirs(self, directory: Path) -> None:
        # S3 has no directories: once a "folder" loses its last object it must vanish too.
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    @staticmethod
    def _write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
