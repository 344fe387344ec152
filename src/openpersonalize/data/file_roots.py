"""Which local files `file://` data locations may name: only those under the configured roots.

Jobs read (imports) and write (exports, batch output) `file://` locations on behalf of API
callers, so a location is a path chosen by whoever can call the API. It is allowed only when it
lies under one of the file roots (`--file-roots` / OPENPERSONALIZE_FILE_ROOTS, ':'-separated;
by default the directory `serve` or `worker` was started in, never '/'), both as written and
once every symlink is resolved, and never inside:

- the data directory and a file:// object store (the service's own database, log and models),
- /proc, /sys and /dev (process environments, kernel state, devices),
- a hidden folder or file below a root (.ssh, .aws, .config: keys and credentials live there).

A refused path gets the same answer whether or not it exists, so the check reveals nothing
about files outside the roots.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from openpersonalize.settings import Settings
from openpersonalize.store.objects.file import path_from_file_url

SETTING = "--file-roots / OPENPERSONALIZE_FILE_ROOTS"
SYSTEM_DENIED = (Path("/proc"), Path("/sys"), Path("/dev"))


class PathNotAllowed(ValueError):
    """A path outside the file roots; the message names it as given and the setting to change."""


class FileRoots:
    def __init__(self, roots: Iterable[Path], denied: Iterable[Path] = ()) -> None:
        self.roots = [Path(os.path.realpath(r)) for r in roots if Path(r).is_absolute()]
        self.denied = [Path(os.path.realpath(d)) for d in (*denied, *SYSTEM_DENIED)]

    @classmethod
    def from_settings(cls, settings: Settings) -> FileRoots:
        denied = [settings.data_dir]
        object_url = settings.resolved_object_url
        if object_url.startswith("file://"):
            denied.append(path_from_file_url(object_url))
        return cls(settings.resolved_file_roots, denied)

    def check(self, path: Path) -> Path:
        """The real path of ``path`` when it may be used; PathNotAllowed otherwise."""
        lexical = Path(os.path.normpath(path))
        self._check_one(lexical, path)
        real = Path(os.path.realpath(lexical))
        self._check_one(real, path)
        return real

    def _check_one(self, candidate: Path, shown: Path) -> None:
        if any(candidate == d or d in candidate.parents for d in self.denied):
            raise PathNotAllowed(
                f"{shown} is in a folder that file:// locations may never name, whatever {SETTING} "
                "allows (the data directory, /proc, /sys, /dev)."
            )
        for root in self.roots:
            if candidate == root or root in candidate.parents:
                if any(part.startswith(".") for part in candidate.relative_to(root).parts):
                    raise PathNotAllowed(
                        f"{shown} is or is inside a hidden file or folder, which file:// locations may "
                        f"never name, whatever {SETTING} allows."
                    )
                return
        if not self.roots:
            raise PathNotAllowed(f"{shown} cannot be used: no file roots are configured ({SETTING}).")
        raise PathNotAllowed(f"{shown} is outside the file roots; add its folder to {SETTING} to allow it.")
