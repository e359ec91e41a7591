"""Docs that must change with the code."""

from __future__ import annotations

from pathlib import Path

from mlmon_common.envdoc import env_rows
from mlmon_common.settings import ServiceSettings

ROOT = Path(__file__).parents[3]


def test_configuration_reference_lists_every_shared_variable() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [row for row in env_rows(ServiceSettings) if row not in doc]
    assert not missing, "docs/configuration.md is stale: regenerate with `uv run python -m mlmon_common.envdoc`"


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
