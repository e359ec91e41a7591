"""Run the doctests of every mlmon_drift domain module (pytest collects tests/ only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "alarms",
    "batch",
    "concept",
    "config",
    "detectors",
    "evaluate",
    "model_drift",
    "monitor",
    "reference",
    "scenarios",
    "stats",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(f"mlmon_drift.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
