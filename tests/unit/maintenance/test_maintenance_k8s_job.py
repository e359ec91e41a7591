from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
import pytest

from mlmon_maintenance.config import K8sJobExecutorConfig
from mlmon_maintenance.executors.k8s_job import (
    K8sJobExecutor,
    ManifestInvalidError,
    job_name,
    job_state,
    render_job,
    validate_manifest,
)
from mlmon_maintenance.plans import Action, MaintenancePlan

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _plan(model_id: str = "churn") -> MaintenancePlan:
    return MaintenancePlan.propose(
        model_id=model_id, actions=[Action(type="retraining")], priority=2, reasons=[], due_at=T0, now=T0, key="k"
    )


def _cfg(**kw: Any) -> K8sJobExecutorConfig:
    return K8sJobExecutorConfig.model_validate(kw)


class FakeBatchApi:
    """Records calls like the real BatchV1Api; a second create of the same name answers 409."""

    def __init__(self, fail_status: int | None = None) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.fail_status = fail_status

    def create_namespaced_job(self, namespace: str, body: dict[str, Any]) -> Any:
        if self.fail_status is not None:
            raise ApiError(self.fail_status)
        name = body["metadata"]["name"]
        if name in self.jobs:
            raise ApiError(409)
        self.jobs[name] = body
        return body

    def read_namespaced_job_status(self, name: str, namespace: str) -> Any:
        return {"status": {"active": 1}}


class ApiError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@pytest.mark.parametrize("version", ["1.29", "1.31", kubernetes_validate.latest_version()])
@pytest.mark.parametrize("model_id", ["churn", "Fraud_Model.v2", "x" * 200])
def test_rendered_job_validates_against_kubernetes_schema(version: str, model_id: str) -> None:
    manifest = render_job(_plan(model_id), _cfg(service_account="mlmon-jobs"), {"EXTRA": "1"})
    validate_manifest(manifest, version)  # raises if invalid
    assert len(manifest["metadata"]["name"]) <= 63
    assert all(len(v) <= 63 for v in manifest["metadata"]["labels"].values())


def test_manifest_content() -> None:
    plan = _plan()
    cfg = _cfg(image="reg/retrain:1", args=["python", "-m", "x", "--model", "{model_id}", "--plan", "{plan_id}"])
    m = render_job(plan, cfg)
    spec = m["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert m["metadata"]["name"] == job_name(plan.id)
    assert m["metadata"]["annotations"] == {"mlmon.dev/plan-id": plan.id}
    assert m["metadata"]["namespace"] == "mlmon"
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (1, 86400, 3600)
    assert c["image"] == "reg/retrain:1"
    assert c["args"] == ["python", "-m", "x", "--model", "churn", "--plan", plan.id]
    assert {"name": "MLMON_PLAN_ID", "value": plan.id} in c["env"]
    assert {"name": "MLMON_ACTIONS", "value": "retraining"} in c["env"]
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod


def test_job_name_is_dns_safe_and_stable() -> None:
    name = job_name("Churn_Model-489b68c3b5c6e303")
    assert name == job_name("Churn_Model-489b68c3b5c6e303")
    assert name.startswith("mlmon-churn-model-489b68c3b5c6e303-")
    assert job_name("a-1") != job_name("A-1")
    assert len(job_name("y" * 300)) <= 63


def test_invalid_manifest_names_the_path() -> None:
    manifest = render_job(_plan(), _cfg())
    manifest["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    with pytest.raises(ManifestInvalidError, match=r"at spec\.template\.spec\.containers\.0: Additional properties"):
        validate_manifest(manifest, "1.31")
    manifest = render_job(_plan(), _cfg())
    manifest["spec"]["backoffLimit"] = "one"
    with pytest.raises(ManifestInvalidError, match=r"at spec\.backoffLimit: 'one' is not of type"):
        validate_manifest(manifest, "1.31")


def test_unknown_kubernetes_version() -> None:
    with pytest.raises(
        ManifestInvalidError,
        match=r"kubernetes_version: .0\.1. has no bundled schema \(supported: 1\.25 to 1\.37\)",
    ):
        validate_manifest(render_job(_plan(), _cfg()), "0.1")


def test_dry_run_without_cluster() -> None:
    result = K8sJobExecutor(_cfg(), clock=lambda: T0).execute(_plan())
    assert result.status == "dry_run"
    assert result.final
    assert result.details["job"] == job_name(_plan().id)
    assert result.details["manifest"]["kind"] == "Job"
    assert result.started_at == T0


def test_unsupported_version_fails_in_dry_run() -> None:
    result = K8sJobExecutor(_cfg(backoff_limit=1, kubernetes_version="0.1"), clock=lambda: T0).execute(_plan())
    assert result.status == "failed"
    assert "no bundled schema" in result.output


def test_submit_once_then_409_is_not_a_second_job() -> None:
    api = FakeBatchApi()
    ex = K8sJobExecutor(_cfg(), batch_api=api, clock=lambda: T0)
    first = ex.execute(_plan())
    second = ex.execute(_plan())
    assert first.status == "submitted"
    assert second.status == "submitted"
    assert second.details["already_existed"] is True
    assert len(api.jobs) == 1
    assert ex.status(_plan()) == "running"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (403, False), (422, False)])
def test_submit_errors(status: int, retryable: bool) -> None:
    result = K8sJobExecutor(_cfg(), batch_api=FakeBatchApi(status), clock=lambda: T0).execute(_plan())
    assert result.status == "failed"
    assert result.retryable is retryable
    assert result.output == f"HTTP {status}"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, "submitted"),
        ({"active": 1}, "running"),
        ({"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}, "succeeded"),
        ({"conditions": [{"type": "Failed", "status": "True"}], "failed": 2}, "failed"),
        ({"active": 1, "conditions": [{"type": "Failed", "status": "False"}]}, "running"),
    ],
)
def test_job_state(status: dict[str, Any], expected: str) -> None:
    assert job_state(status) == expected


def test_job_state_from_client_objects() -> None:
    from kubernetes.client import V1JobCondition, V1JobStatus

    done = V1JobStatus(conditions=[V1JobCondition(type="Complete", status="True")], succeeded=1)
    assert job_state(done) == "succeeded"
    assert job_state(V1JobStatus(active=2)) == "running"
