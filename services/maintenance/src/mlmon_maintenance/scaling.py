"""``auto_scale`` with memory: the stabilisation/cooldown history lives in Redis between calls, and the
decision is applied through the Kubernetes ``scale`` subresource of the service's Deployment when a
cluster is configured — otherwise it stays a recommendation (returned and published).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from mlmon_maintenance.autoscale import ScaleHistory, ScaleMetrics, ScalePolicy, ServiceStatus, auto_scale
from mlmon_maintenance.config import KubernetesConfig
from mlmon_maintenance.state import StateStore

logger = logging.getLogger(__name__)


class ScaleApi(Protocol):
    """The part of ``kubernetes.client.AppsV1Api`` used here."""

    def patch_namespaced_deployment_scale(self, name: str, namespace: str, body: dict[str, Any]) -> Any: ...


def history_to_doc(h: ScaleHistory) -> dict[str, Any]:
    return {
        "recommendations": [[t.isoformat(), n] for t, n in h.recommendations],
        "last_change_at": h.last_change_at.isoformat() if h.last_change_at else None,
        "last_direction": h.last_direction,
    }


def history_from_doc(doc: dict[str, Any] | None) -> ScaleHistory:
    if not doc:
        return ScaleHistory()
    last = doc.get("last_change_at")
    return ScaleHistory(
        tuple((datetime.fromisoformat(t), int(n)) for t, n in doc.get("recommendations", [])),
        datetime.fromisoformat(last) if last else None,
        doc.get("last_direction"),
    )


class Scaler:
    def __init__(
        self,
        policy: ScalePolicy,
        kube: KubernetesConfig,
        store: StateStore,
        clock: Callable[[], datetime],
        api: ScaleApi | None = None,
    ) -> None:
        self.policy = policy
        self.kube = kube
        self.store = store
        self.clock = clock
        self.api = api

    def deployment(self, service: str) -> str:
        return self.kube.deployments.get(service, f"mlmon-{service}")

    def decide(
        self,
        service: str,
        replicas: int,
        cpu: float | None,
        lag: float | None,
        policy: ScalePolicy | None = None,
    ) -> dict[str, Any]:
        """Decide (and apply when a cluster is configured); the decision as a JSON-able dict."""
        now = self.clock()
        history = history_from_doc(self.store.scale_history(service))
        decision = auto_scale(
            ServiceStatus(service, replicas), ScaleMetrics(cpu=cpu, lag=lag), policy or self.policy, history, now
        )
        self.store.put_scale_history(service, history_to_doc(decision.history))
        doc: dict[str, Any] = {
            "service": service,
            "current": decision.current,
            "desired": decision.desired,
            "recommended": decision.recommended,
            "changed": decision.changed,
            "reason": decision.reason,
            "applied": False,
        }
        if decision.changed and self.api is not None:
            name = self.deployment(service)
            body = {"spec": {"replicas": decision.desired}}
            self.api.patch_namespaced_deployment_scale(name, self.kube.namespace, body)
            doc |= {"applied": True, "deployment": name, "namespace": self.kube.namespace}
            logger.info("scaled %s to %d", name, decision.desired, extra={"service": service})
        return doc


def load_scale_api(kube: KubernetesConfig) -> ScaleApi | None:  # pragma: no cover - needs a cluster
    if not kube.enabled:
        return None
    from kubernetes import client, config

    if kube.in_cluster:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    api: ScaleApi = client.AppsV1Api()
    return api
