"""Run a plan as a Kubernetes ``batch/v1`` Job: render, validate offline, submit when a cluster is configured.

The Job name derives from the plan id, so submitting the same plan twice hits ``409 AlreadyExists`` and
is reported as already submitted: a plan never runs as two Jobs. Without a cluster (``batch_api=None``)
the executor is a dry run: it renders and validates the manifest against the Kubernetes JSON schema
shipped in the ``kubernetes-validate`` wheel (no network).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any, Protocol

import kubernetes_validate

from mlmon_common.events import utcnow
from mlmon_maintenance.config import K8sJobExecutorConfig
from mlmon_maintenance.executors.base import ExecutionResult, ExecutionStatus, substitute
from mlmon_maintenance.plans import MaintenancePlan

logger = logging.getLogger(__name__)

_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")
NON_ROOT_UID = 65532


class ManifestInvalidError(ValueError):
    """A rendered manifest failed schema validation (a template/config bug, never retried)."""


class BatchApi(Protocol):
    """The part of ``kubernetes.client.BatchV1Api`` the executor uses."""

    def create_namespaced_job(self, namespace: str, body: dict[str, Any]) -> Any: ...

    def read_namespaced_job_status(self, name: str, namespace: str) -> Any: ...


def job_name(plan_id: str) -> str:
    """A DNS-1123 name (<= 63 chars) unique per plan id.

    >>> job_name("Churn_Model-489b68c3b5c6e303")
    'mlmon-churn-model-489b68c3b5c6e303-c5fa9e'
    """
    stem = _NOT_DNS.sub("-", plan_id.lower()).strip("-")[:48].strip("-")
    digest = hashlib.sha256(plan_id.encode()).hexdigest()[:6]
    return f"mlmon-{stem}-{digest}"


def _label(value: str) -> str:
    cleaned = _NOT_LABEL.sub("_", value)[:63].strip("._-")
    return cleaned or "unknown"


def _container(plan: MaintenancePlan, cfg: K8sJobExecutorConfig, env: dict[str, str]) -> dict[str, Any]:
    base_env = {"MLMON_PLAN_ID": plan.id, "MLMON_MODEL_ID": plan.model_id}
    base_env["MLMON_ACTIONS"] = ",".join(a.type for a in plan.actions)
    return {
        "name": "maintenance",
        "image": cfg.image,
        "args": [substitute(a, plan) for a in cfg.args],
        "env": [{"name": k, "value": v} for k, v in sorted({**base_env, **env}.items())],
        "resources": {
            "requests": {"cpu": cfg.cpu_request, "memory": cfg.memory_request},
            "limits": {"cpu": cfg.cpu_limit, "memory": cfg.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def render_job(plan: MaintenancePlan, cfg: K8sJobExecutorConfig, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The Job manifest for ``plan`` (a plain dict, ready for the API or ``kubectl apply``)."""
    labels = {
        "app.kubernetes.io/name": "mlmon-maintenance-job",
        "app.kubernetes.io/part-of": "mlmon",
        "mlmon.dev/model-id": _label(plan.model_id),
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": cfg.service_account is not None,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NON_ROOT_UID,
            "runAsGroup": NON_ROOT_UID,
            "fsGroup": NON_ROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(plan, cfg, env or {})],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    if cfg.service_account is not None:
        pod_spec["serviceAccountName"] = cfg.service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(plan.id),
            "namespace": cfg.namespace,
            "labels": labels,
            "annotations": {"mlmon.dev/plan-id": plan.id},
        },
        "spec": {
            "backoffLimit": cfg.backoff_limit,
            "ttlSecondsAfterFinished": cfg.ttl_seconds_after_finished,
            "activeDeadlineSeconds": cfg.active_deadline_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def bundled_versions() -> list[str]:
    """Kubernetes ``major.minor`` versions whose schemas ship in the kubernetes-validate wheel, oldest first."""
    seen = {".".join(v.split(".")[:2]): None for v in kubernetes_validate.utils.all_versions()}
    return list(seen)


def validate_manifest(manifest: dict[str, Any], kubernetes_version: str) -> None:
    """Strict offline schema validation; raises ``ManifestInvalidError`` naming the path and problem."""
    supported = bundled_versions()
    if ".".join(kubernetes_version.removeprefix("v").split(".")[:2]) not in supported:
        raise ManifestInvalidError(
            f"kubernetes_version: {kubernetes_version!r} has no bundled schema "
            f"(supported: {supported[0]} to {supported[-1]})"
        )
    try:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path) or "<root>"
        raise ManifestInvalidError(f"Job manifest invalid at {path}: {exc.message}") from None


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def job_state(status: Any) -> ExecutionStatus:
    """Map a ``V1JobStatus`` (or its dict form) to an execution status."""
    for cond in _field(status, "conditions") or []:
        if _field(cond, "status") == "True" and _field(cond, "type") == "Complete":
            return "succeeded"
        if _field(cond, "status") == "True" and _field(cond, "type") == "Failed":
            return "failed"
    return "running" if (_field(status, "active") or 0) > 0 else "submitted"


class K8sJobExecutor:
    name = "k8s_job"

    def __init__(
        self,
        cfg: K8sJobExecutorConfig,
        batch_api: BatchApi | None = None,
        env: dict[str, str] | None = None,
        clock: Any = utcnow,
    ) -> None:
        self.cfg = cfg
        self.batch_api = batch_api
        self.env = env or {}
        self.clock = clock

    def execute(self, plan: MaintenancePlan) -> ExecutionResult:
        manifest = render_job(plan, self.cfg, self.env)
        now: datetime = self.clock()
        try:
            validate_manifest(manifest, self.cfg.kubernetes_version)
        except ManifestInvalidError as exc:
            return self._result(plan, "failed", now, output=str(exc))
        details = {"job": manifest["metadata"]["name"], "namespace": self.cfg.namespace}
        if self.batch_api is None:
            return self._result(plan, "dry_run", now, details={**details, "manifest": manifest})
        try:
            self.batch_api.create_namespaced_job(self.cfg.namespace, manifest)
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status == 409:
                logger.info("job %s already exists; not submitting twice", details["job"])
                return self._result(plan, "submitted", now, details={**details, "already_existed": True})
            retryable = status is None or status >= 500 or status == 429
            return self._result(plan, "failed", now, output=str(exc)[:2000], retryable=retryable)
        return self._result(plan, "submitted", now, details=details)

    def status(self, plan: MaintenancePlan) -> ExecutionStatus:
        """Watch step: the Job's current state (``submitted`` until a pod is active)."""
        if self.batch_api is None:
            return "dry_run"
        job = self.batch_api.read_namespaced_job_status(job_name(plan.id), self.cfg.namespace)
        return job_state(job["status"] if isinstance(job, dict) else job.status)

    def _result(
        self,
        plan: MaintenancePlan,
        status: ExecutionStatus,
        now: datetime,
        output: str = "",
        details: dict[str, Any] | None = None,
        retryable: bool = False,
    ) -> ExecutionResult:
        finished = now if status in ("failed", "dry_run") else None
        return ExecutionResult(
            plan_id=plan.id,
            executor=self.name,
            status=status,
            started_at=now,
            finished_at=finished,
            output=output,
            retryable=retryable,
            details=details or {},
        )


def load_batch_api(in_cluster: bool) -> Any:  # pragma: no cover - needs a cluster
    """The official client, from the pod's service account or the local kubeconfig."""
    from kubernetes import client, config

    if in_cluster:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.BatchV1Api()
