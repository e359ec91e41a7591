"""Fixtures for the offline deployment checks: repo paths, kustomize rendering, compose interpolation.

Nothing here talks to a cluster or a Docker engine: manifests are rendered with ``kubectl kustomize``
(client side only) and validated against schemas shipped in PyPI packages.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from mlmon_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")

Manifest = dict[str, Any]

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class InterpolationError(ValueError):
    """A required variable (``${VAR:?message}``) is unset or empty, as ``docker compose`` reports it."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose-style variable substitution: ``${V}``, ``${V:-d}``, ``${V-d}``, ``${V:?m}``, ``${V?m}``, ``$$``."""

    def sub(m: re.Match[str]) -> str:
        if m[0] == "$$":
            return "$"
        name, op, arg = m["name"], m["op"], m["arg"] or ""
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in ("-", ":-"):
            return arg if missing else str(value)
        if op in ("?", ":?"):
            if missing:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return str(value)
        return "" if value is None else value

    return _VAR.sub(sub, text)


def render_kustomization(
    tmp_dir: Path, resources: Sequence[Path], components: Sequence[Path] = (), namespace: str | None = None
) -> list[Manifest]:
    """Render a throw-away kustomization (in ``tmp_dir``) that combines overlays and components."""
    rel = [os.path.relpath(p, tmp_dir) for p in resources]
    comp = [os.path.relpath(p, tmp_dir) for p in components]
    spec: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": rel,
        "components": comp,
    }
    if namespace:
        spec["namespace"] = namespace
    tmp_dir.mkdir(parents=True, exist_ok=True)
    (tmp_dir / "kustomization.yaml").write_text(yaml.safe_dump(spec))
    return kustomize(tmp_dir)


def kustomize(path: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) must be installed to render deploy/k8s"
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@functools.cache
def _overlay(name: str) -> tuple[Manifest, ...]:
    return tuple(kustomize(K8S / "overlays" / name))


def load_by_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def overlay() -> Callable[[str], list[Manifest]]:
    """Rendered overlay (``dev`` or ``prod``), cached for the session; callers get a fresh list."""
    return lambda name: [yaml.safe_load(yaml.safe_dump(d)) for d in _overlay(name)]


@pytest.fixture(scope="session")
def gen_topics() -> ModuleType:
    """``deploy/gen_topics.py`` loaded as a module (it is a script, not a package)."""
    return load_by_path("mlmon_deploy_gen_topics", ROOT / "deploy" / "gen_topics.py")


@pytest.fixture(scope="session")
def healthcheck() -> ModuleType:
    return load_by_path("mlmon_deploy_healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py")


@pytest.fixture(scope="session")
def compose_interpolate() -> Callable[[str, Mapping[str, str]], str]:
    return interpolate


@pytest.fixture(scope="session")
def interpolation_error() -> type[InterpolationError]:
    return InterpolationError


@pytest.fixture(scope="session")
def render() -> Callable[..., list[Manifest]]:
    return render_kustomization


def settings_class(service: str) -> type[ServiceSettings]:
    """The service's settings class when its ``settings`` module exists, else the shared one."""
    try:
        module = importlib.import_module(f"mlmon_{service}.settings")
    except ModuleNotFoundError:
        return ServiceSettings
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    return found[0] if found else ServiceSettings


def known_setting(var: str, service: str) -> bool:
    """Does ``MLMON_X`` map onto a field of the shared settings, or a group of the service's own?"""
    key = var.removeprefix("MLMON_").lower()
    fields = ServiceSettings.model_fields
    if key in fields:
        return True
    group, _, rest = key.partition("_")
    if group in fields:
        sub = fields[group].annotation
        return rest in getattr(sub, "model_fields", {})
    return group == service


@pytest.fixture(scope="session")
def settings_for() -> Callable[[str], type[ServiceSettings]]:
    return settings_class


@pytest.fixture(name="known_setting", scope="session")
def known_setting_fixture() -> Callable[[str, str], bool]:
    return known_setting
