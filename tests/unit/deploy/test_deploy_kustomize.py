"""Every overlay and component combination renders and validates offline.

Native objects are validated against the Kubernetes OpenAPI-derived JSON schemas shipped in the PyPI package
``kubernetes-validate`` (strict: unknown fields are errors); custom resources (KEDA, Prometheus Operator,
Strimzi) are checked structurally, since their CRD schemas are not available offline.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

Manifest = dict[str, Any]
K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"

#: name -> (kustomization dirs used as resources, components added on top)
COMBOS: dict[str, tuple[list[str], list[str]]] = {
    "base": (["base"], []),
    "dev": (["overlays/dev"], []),
    "prod": (["overlays/prod"], []),
    "base+keda": (["base"], ["keda"]),
    "base+hpa": (["base"], ["hpa"]),
    "base+servicemonitor": (["base"], ["servicemonitor"]),
    "base+strimzi": (["base"], ["strimzi"]),
    "base+keda+servicemonitor+strimzi": (["base"], ["keda", "servicemonitor", "strimzi"]),
    "base+hpa+servicemonitor+strimzi": (["base"], ["hpa", "servicemonitor", "strimzi"]),
    "dev+keda": (["overlays/dev"], ["keda"]),
    "dev+hpa+servicemonitor": (["overlays/dev"], ["hpa", "servicemonitor"]),
    "prod+strimzi": (["overlays/prod"], ["strimzi"]),
    "base+resource-agent": (["base"], ["resource-agent"]),
    "prod+resource-agent": (["overlays/prod"], ["resource-agent"]),
}
#: Kubernetes versions validated against: the oldest we support and the newest schemas shipped.
K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
NATIVE_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}


def group_of(doc: Manifest) -> str:
    api = doc["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


@pytest.fixture(scope="module", autouse=True)
def _cached_schemas() -> Iterator[None]:
    """kubernetes-validate re-reads its (large) schema files on every call; read each once per module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            kubernetes_validate.utils, "schema_contents", functools.cache(kubernetes_validate.utils.schema_contents)
        )
        yield


@pytest.fixture(scope="module")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, render: Callable[..., list[Manifest]]
) -> dict[str, list[Manifest]]:
    out: dict[str, list[Manifest]] = {}
    for name, (resources, components) in COMBOS.items():
        tmp = tmp_path_factory.mktemp(name.replace("+", "_"))
        out[name] = render(
            tmp, [K8S / r for r in resources], [K8S / "components" / c for c in components], namespace="mlmon"
        )
    return out


@pytest.mark.parametrize("combo", COMBOS)
def test_combo_renders_unique_objects(rendered: dict[str, list[Manifest]], combo: str) -> None:
    docs = rendered[combo]
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), f"{combo}: duplicate objects"
    assert {"Deployment", "Service", "ServiceAccount", "ConfigMap"} <= {k for k, _ in keys}
    assert all(d["metadata"].get("namespace") == "mlmon" for d in docs if d["kind"] not in {"Namespace"})


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("combo", COMBOS)
def test_native_objects_validate_against_kubernetes_schemas(
    rendered: dict[str, list[Manifest]], combo: str, version: str
) -> None:
    errors = []
    for doc in rendered[combo]:
        if group_of(doc) not in NATIVE_GROUPS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} at {path}: {exc.message}")
    assert errors == [], f"{combo} @ {version}:\n" + "\n".join(errors)


def test_overlays_render_on_their_own(overlay: Callable[[str], list[Manifest]]) -> None:
    dev, prod = overlay("dev"), overlay("prod")
    assert {d["kind"] for d in dev} >= {"Kafka", "KafkaNodePool", "KafkaTopic", "Secret"}
    assert {d["kind"] for d in prod} >= {"ScaledObject", "ServiceMonitor", "TriggerAuthentication"}


def test_validator_rejects_an_unknown_field(overlay: Callable[[str], list[Manifest]]) -> None:
    """The strict schemas really are strict: a misspelt field fails (guards against a silent no-op)."""
    dep = next(d for d in overlay("dev") if d["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(dep, K8S_VERSIONS[0], strict=True)
