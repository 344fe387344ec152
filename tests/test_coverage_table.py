"""IMPLEMENTATION_COVERAGE.md is generated from the code and must match it; every op is routed."""

from __future__ import annotations

from pathlib import Path

from openpersonalize.api import coverage, protocol


def test_coverage_table_is_up_to_date():
    table = Path(__file__).parents[1] / "IMPLEMENTATION_COVERAGE.md"
    assert table.read_text() == coverage.render(), (
        "run: python -m openpersonalize.api.coverage > IMPLEMENTATION_COVERAGE.md"
    )


def test_all_79_operations_are_modelled():
    counts = {service: len(protocol.operations(service)) for service in protocol.SERVICES}
    assert counts == {"personalize": 71, "personalize-events": 5, "personalize-runtime": 3}
    assert len(protocol.rest_routes()) == 8
