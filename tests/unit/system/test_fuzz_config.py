"""Hypothesis over the one YAML config file: random text, random YAML documents and mutations of the shipped
config (``deploy/k8s/base/config/mlmon.yml``) go through each service's loader. Every outcome is either a
validated section or a ``ConfigError`` naming the file (and, for a bad value, the section path); never another
exception. Collector, drift, maintenance and reporting use ``mlmon_common.config.load_section`` with their section
model; alerting has its own loader and ``ConfigError`` (``mlmon_alerting.config.load_config``)."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel

from mlmon_alerting.config import ConfigError as AlertingConfigError, load_config
from mlmon_collector.config import CollectorConfig
from mlmon_common.config import load_section
from mlmon_common.errors import ConfigError
from mlmon_drift.config import DriftSection
from mlmon_maintenance.config import MaintenanceConfig
from mlmon_reporting.config import ReportingConfig

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "k8s" / "base" / "config" / "mlmon.yml"
SECTIONS: dict[str, type[BaseModel]] = {
    "collector": CollectorConfig,
    "drift": DriftSection,
    "maintenance": MaintenanceConfig,
    "reporting": ReportingConfig,
}
ALL = (*SECTIONS, "alerting")
TRICKY = ["- a\n- b", "a: [", "key: value: x", "\t x", "{", "!!python/object:os.system {}"]
FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
    st.sampled_from(["7d", "1h", "0s", "-5m", "weekly", "${NOPE}", "http://x", "a@b", "", "null", "~"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)


@contextmanager
def config_file(text: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlmon.yml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        yield path


def load(section: str, path: Path) -> object:
    """The service's own loader; returns the validated config or the ConfigError raised."""
    try:
        if section == "alerting":
            return load_config(path, env={})
        return load_section(path, section, SECTIONS[section])
    except (ConfigError, AlertingConfigError) as exc:
        return exc


def assert_clean_outcome(section: str, path: Path, outcome: object, bad_value: bool = False) -> None:
    if not isinstance(outcome, Exception):
        return
    message = str(outcome)
    assert str(path) in message, f"{section}: the error does not name the file: {message}"
    if bad_value and section != "alerting":  # alerting reads its section as the root of its own paths
        assert f": {section}" in message or "invalid YAML" in message or "top level" in message, message


def _walk(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _walk(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from _walk(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@pytest.mark.parametrize("section", ALL)
def test_random_text_gives_a_section_or_a_config_error(section: str) -> None:
    @FUZZ
    @given(text=st.text(max_size=300) | st.sampled_from(TRICKY))
    def fuzz(text: str) -> None:
        with config_file(text) as path:
            assert_clean_outcome(section, path, load(section, path))

    fuzz()


@pytest.mark.parametrize("section", ALL)
def test_random_section_documents_give_a_section_or_a_config_error(section: str) -> None:
    model = SECTIONS.get(section)
    fields = sorted(model.model_fields) if model else ["route", "receivers", "thresholds", "inhibit_rules"]
    keys = st.sampled_from(fields) | st.text(max_size=10)

    @FUZZ
    @given(body=st.dictionaries(keys, _values, max_size=5) | _values)
    def fuzz(body: Any) -> None:
        with config_file(yaml.safe_dump({section: body}, allow_unicode=True)) as path:
            assert_clean_outcome(section, path, load(section, path), bad_value=True)

    fuzz()


@pytest.mark.parametrize("section", ALL)
def test_mutations_of_the_shipped_config_give_a_section_or_a_config_error(section: str) -> None:
    shipped = yaml.safe_load(SHIPPED.read_text())
    assert not isinstance(load(section, SHIPPED), Exception), "the shipped config must load"
    paths = [p for p in _walk(shipped[section]) if p] or [()]

    @FUZZ
    @given(where=st.sampled_from(paths), value=_values)
    def fuzz(where: tuple[Any, ...], value: Any) -> None:
        doc = copy.deepcopy(shipped)
        if where:
            _set(doc[section], where, value)
        else:
            doc[section] = value
        with config_file(yaml.safe_dump(doc, allow_unicode=True)) as path:
            outcome = load(section, path)
            assert_clean_outcome(section, path, outcome, bad_value=True)

    fuzz()


@pytest.mark.parametrize(
    ("section", "text", "expected"),
    [
        ("collector", "collector: {window_s: soon}\n", "collector.window_s"),
        ("drift", "drift: {data_drift_max: [1]}\n", "drift.data_drift_max"),
        ("maintenance", "maintenance: {schedules: {retraining: weekly}}\n", "maintenance.schedules"),
        ("reporting", "reporting: {email: {host: h}}\n", "reporting.email"),
        ("alerting", "alerting: {route: {receiver: nobody}, receivers: [{name: a}]}\n", "route.receiver"),
        ("drift", "drift: {a: [\n", "invalid YAML (line"),
    ],
)
def test_errors_name_the_file_and_the_path(section: str, text: str, expected: str) -> None:
    with config_file(text) as path:
        outcome = load(section, path)
        assert isinstance(outcome, Exception), outcome
        assert str(path) in str(outcome), str(outcome)
        assert expected in str(outcome), str(outcome)


@contextmanager
def _bytes_file(data: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlmon.yml"
        path.write_bytes(data)
        yield path


@pytest.mark.parametrize("section", ALL)
def test_a_file_that_is_not_utf8_gives_a_config_error(section: str) -> None:
    with _bytes_file(f"{section}:\n  x: ".encode() + b"\xff\xfe\n") as path:
        assert_clean_outcome(section, path, load(section, path))


@pytest.mark.parametrize("section", ALL)
def test_deeply_nested_yaml_gives_a_config_error(section: str) -> None:
    with _bytes_file(f"{section}: {'[' * 5000}{']' * 5000}\n".encode()) as path:
        assert_clean_outcome(section, path, load(section, path))


def test_a_cyclic_yaml_anchor_gives_a_config_error_in_alerting() -> None:
    with _bytes_file(b"alerting:\n  receivers: &r [{name: a, x: *r}]\n  route: {receiver: a}\n") as path:
        assert_clean_outcome("alerting", path, load("alerting", path))


def test_a_cyclic_yaml_anchor_gives_a_config_error_in_a_section() -> None:
    with _bytes_file(b"collector: &c {models: [*c]}\n") as path:
        outcome = load("collector", path)
        assert isinstance(outcome, ConfigError), outcome
        assert str(path) in str(outcome), str(outcome)
