"""The dependency direction of DESIGN.md §2: an import never points up a layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "openpersonalize"

# package -> packages it must never import
# The base modules (settings, errors, scope) import nothing of the package's layers.
_BASE = {
    "api",
    "console",
    "control",
    "data",
    "jobs",
    "recipes",
    "evaluation",
    "training",
    "serving",
    "store",
    "server",
    "cli",
    "demo",
}
FORBIDDEN = {
    "settings": _BASE,
    "errors": _BASE,
    "scope": _BASE,
    "store": {
        "console",
        "api",
        "control",
        "data",
        "jobs",
        "recipes",
        "evaluation",
        "serving",
        "server",
        "cli",
        "demo",
    },
    "data": {
        "console",
        "api",
        "control",
        "jobs",
        "recipes",
        "evaluation",
        "serving",
        "server",
        "cli",
        "demo",
    },
    "recipes": {"console", "api", "control", "jobs", "serving", "server", "cli", "demo", "training"},
    "evaluation": {"console", "api", "control", "jobs", "serving", "server", "cli", "demo", "training"},
    "training": {"console", "api", "control", "jobs", "serving", "server", "cli", "demo"},
    "filters": {
        "console",
        "api",
        "control",
        "jobs",
        "serving",
        "server",
        "cli",
        "demo",
        "recipes",
        "evaluation",
    },
    "control": {"console", "api", "jobs", "serving", "server", "cli", "demo"},
    "serving": {"console", "api", "control", "jobs", "server", "cli", "demo", "evaluation", "training"},
    # Batch jobs run serving's pipeline in bulk (DESIGN.md §2a), so jobs may import serving.
    "jobs": {"console", "api", "server", "cli", "demo"},
    "api": {"jobs", "server", "cli", "demo", "console"},
    # The console is an adapter beside api: it may use api's validation and REST helpers.
    "console": {"jobs", "server", "cli", "demo"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("openpersonalize."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("openpersonalize.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_point_down(path):
    layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    bad = _imports(path) & FORBIDDEN.get(layer, set())
    assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(bad)}"


def test_serving_does_not_load_training_code_at_import():
    import subprocess
    import sys

    code = "import sys, openpersonalize.serving.runtime; print(sorted(m for m in ('torch', 'openpersonalize.evaluation', 'openpersonalize.jobs') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": "src"}
    )
    assert out.stdout.strip() == "[]"
