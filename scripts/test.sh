#!/usr/bin/env bash
# The test command: set up .venv, then lint (ruff), type-check (mypy) and run the tests (pytest).
# Extra arguments go to pytest, e.g. scripts/test.sh -k events -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh test

echo "[test] ruff"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
echo "[test] mypy"
.venv/bin/mypy
echo "[test] pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "[test] pytest collected no tests"
  exit 0
fi
exit $status
