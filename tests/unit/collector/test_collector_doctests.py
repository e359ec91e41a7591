"""Run the doctests of the mlmon_collector domain modules (pytest collects tests/ only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["business", "canonical", "config", "ingest", "join", "metrics", "registry", "scenario", "simulate", "system",
           "watermark", "windows"]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name: str) -> None:
    module = importlib.import_module(f"mlmon_collector.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
