"""Under CI a missing data set or service fails the test instead of skipping it."""

from __future__ import annotations

import pytest

from tests.fixtures.requirements import missing, shared_data


def test_missing_skips_on_a_developer_machine(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing("no such service")
    with pytest.raises(pytest.skip.Exception):
        shared_data("no-such-data-set")


def test_missing_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        missing("no such service")
    with pytest.raises(pytest.fail.Exception, match="no-such-data-set"):
        shared_data("no-such-data-set")
