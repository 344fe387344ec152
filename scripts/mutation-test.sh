#!/usr/bin/env bash
# Mutation testing (mutmut) of the response-shaping and event-ingestion modules against their fast
# tests; the modules and tests are listed under [tool.mutmut] in pyproject.toml. Takes about an
# hour on 2 cores. Prints the score and the surviving mutants; `mutmut show <name>` shows one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh test
.venv/bin/python -m pip install --quiet -e ".[test,mutation]"
rm -rf mutants
.venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-2}" >/dev/null || true
.venv/bin/mutmut export-cicd-stats >/dev/null
.venv/bin/python - <<'PY'
import json
stats = json.load(open("mutants/mutmut-cicd-stats.json"))
tested = stats["total"] - stats.get("skipped", 0)
killed = stats["killed"] + stats.get("timeout", 0)
print(f"mutants: {stats['total']}, killed: {killed}, survived: {stats['survived']}, "
      f"no tests: {stats.get('no_tests', 0)}, score: {100 * killed / max(tested, 1):.1f}%")
PY
.venv/bin/mutmut results | grep -E "survived|no tests" || true
