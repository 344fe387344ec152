"""The file:// sandbox (data/file_roots.py) on its own: what a root allows and what it never does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openpersonalize.data.file_roots import FileRoots, PathNotAllowed
from openpersonalize.settings import Settings


def test_a_data_directory_inside_a_root_stays_closed(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", file_roots=str(tmp_path))
    roots = FileRoots.from_settings(settings)
    (tmp_path / "data").mkdir()
    (tmp_path / "in.csv").write_text("x")
    assert roots.check(tmp_path / "in.csv") == (tmp_path / "in.csv").resolve()
    for path in (tmp_path / "data", tmp_path / "data" / "metadata.db", tmp_path / "data" / "objects" / "k"):
        with pytest.raises(PathNotAllowed, match="may never name"):
            roots.check(path)


def test_system_folders_stay_closed_even_under_a_root_of_slash():
    roots = FileRoots([Path("/")])
    assert roots.check(Path("/etc/hostname")) == Path("/etc/hostname")
    for path in ("/proc/self/environ", "/sys/kernel", "/dev/zero", "/proc/1/../self/environ"):
        with pytest.raises(PathNotAllowed):
            roots.check(Path(path))


def test_links_are_judged_by_where_they_lead(tmp_path):
    inside = tmp_path / "root"
    inside.mkdir()
    (inside / "ok.csv").write_text("x")
    (inside / "alias.csv").symlink_to(inside / "ok.csv")
    (inside / "out").symlink_to("/etc")
    roots = FileRoots([inside])
    assert roots.check(inside / "alias.csv") == (inside / "ok.csv").resolve()
    with pytest.raises(PathNotAllowed, match="outside the file roots"):
        roots.check(inside / "out" / "passwd")


def test_hidden_names_below_a_root_are_refused_but_a_hidden_root_is_fine(tmp_path):
    root = tmp_path / ".local" / "data"
    (root / ".ssh").mkdir(parents=True)
    roots = FileRoots([root])
    assert roots.check(root / "x.csv")
    with pytest.raises(PathNotAllowed, match="hidden"):
        roots.check(root / ".ssh" / "id_rsa")


def test_the_default_root_is_the_working_directory_but_never_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings().resolved_file_roots == [tmp_path.resolve()]
    monkeypatch.chdir("/")
    assert Settings().resolved_file_roots == []
    with pytest.raises(PathNotAllowed, match="no file roots are configured"):
        FileRoots.from_settings(Settings(data_dir=tmp_path)).check(Path("/etc/passwd"))
    assert os.getcwd() == "/"


def test_a_refusal_says_the_same_whether_or_not_the_file_exists(tmp_path):
    roots = FileRoots([tmp_path / "root"])
    messages = set()
    for path in ("/etc/passwd", "/etc/no-such-file"):
        with pytest.raises(PathNotAllowed) as error:
            roots.check(Path(path))
        messages.add(str(error.value).replace(path, "<path>"))
    assert len(messages) == 1
