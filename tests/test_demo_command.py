"""The README's first command: `openpersonalize demo` runs the whole loop and shows the recommendations move."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": "src", "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "openpersonalize", "demo", "--data-dir", str(tmp_path / "demo")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for step in ("Importing interactions", "Training aws-user-personalization", "Deploying a campaign"):
        assert step in out
    assert "normalized_discounted_cumulative_gain_at_10" in out
    assert "Recommended after the live events" in out
    assert "new" in out.split("Recommended after the live events")[1].split("Filtered and promoted")[0]
    shaped = out.split("Filtered and promoted")[1]
    assert shaped.count("bargains") == 3  # 30% of 10 slots promoted


def test_demo_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    env = {**os.environ, "PYTHONPATH": "src"}
    cmd = [sys.executable, "-m", "openpersonalize", "demo", "--data-dir", str(tmp_path)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and (tmp_path / "precious.txt").exists()
