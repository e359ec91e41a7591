from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from mlmon_common.config import load_section
from mlmon_common.errors import ConfigError


class Route(BaseModel):
    receiver: str
    group_wait_s: float = Field(30, ge=0)


class Section(BaseModel):
    routes: list[Route] = []
    threshold: float = 0.1


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


def test_missing_section_gives_defaults(tmp_path: Path) -> None:
    assert load_section(_write(tmp_path, "other: {}\n"), "demo", Section) == Section()


def test_errors_name_file_path_and_problem(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo:\n  routes:\n    - receiver: a\n    - group_wait_s: -1\n")
    with pytest.raises(ConfigError) as info:
        load_section(path, "demo", Section)
    assert str(info.value).splitlines() == [
        f"{path}: demo.routes[1].receiver: Field required",
        f"{path}: demo.routes[1].group_wait_s: Input should be greater than or equal to 0",
    ]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "demo:\n  threshold: [1,\n")
    with pytest.raises(ConfigError, match=r"invalid YAML \(line 3, column 1\)"):
        load_section(path, "demo", Section)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the top level must be a mapping of sections, got list"):
        load_section(_write(tmp_path, "- a\n- b\n"), "demo", Section)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config: No such file or directory"):
        load_section(tmp_path / "absent.yml", "demo", Section)
