"""The HTTP API over a running service: every bad-input path (401, 404, 409, 422), requested plans,
auto-approved backup/cleanup plans that really run, and auto-scale recommendations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlmon_common import topics
from mlmon_common.events import decode_event
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import consume_n, wait_for
from mlmon_maintenance.app import Maintenance
from mlmon_maintenance.coordinator import SYSTEM_MODEL


def _request(url: str, model: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{model}/maintenance", json=body, headers=headers)


@pytest.fixture
def proposed(service: tuple[str, Maintenance], mt: Any) -> dict[str, Any]:
    url, _ = service
    response = _request(url, "churn", {"actions": ["retraining"], "actor": "alice"}, mt.AUTH)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    assert plan["state"] == "proposed"
    return plan


def test_writes_need_the_api_key(service: tuple[str, Maintenance], proposed: dict[str, Any]) -> None:
    url, _ = service
    pid = proposed["id"]
    wrong = {"X-API-Key": "not-the-key"}
    calls = [
        ("post", f"/v1/plans/{pid}/approve", {"actor": "a"}),
        ("post", f"/v1/plans/{pid}/cancel", {"actor": "a"}),
        ("post", "/v1/models/churn/maintenance", {"actions": ["backup"], "actor": "a"}),
        ("post", "/v1/autoscale/collector", {"replicas": 2, "cpu": 0.9}),
    ]
    for method, path, body in calls:
        for headers in ({}, wrong):
            response = httpx.request(method, f"{url}{path}", json=body, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.json() == {"detail": "missing or wrong API key"}
    assert httpx.get(f"{url}/v1/plans/{pid}").json()["state"] == "proposed"  # nothing changed


def test_unknown_plan_or_model_is_404(service: tuple[str, Maintenance], mt: Any) -> None:
    url, _ = service
    assert httpx.get(f"{url}/v1/plans/churn-0000000000000000").status_code == 404
    for decision in ("approve", "cancel"):
        response = httpx.post(f"{url}/v1/plans/nope/{decision}", json={"actor": "a"}, headers=mt.AUTH)
        assert response.status_code == 404
        assert response.json() == {"detail": "no plan 'nope'"}
    assert httpx.get(f"{url}/v1/models/never-seen/history").status_code == 404
    assert httpx.post(f"{url}/v1/plans/x/promote", json={"actor": "a"}, headers=mt.AUTH).status_code == 422


def test_illegal_transitions_and_conflicts_are_409(
    service: tuple[str, Maintenance], proposed: dict[str, Any], mt: Any
) -> None:
    url, _ = service
    pid = proposed["id"]
    cancel = httpx.post(f"{url}/v1/plans/{pid}/cancel", json={"actor": "bob", "reason": "dup"}, headers=mt.AUTH)
    assert cancel.status_code == 200
    assert cancel.json()["state"] == "cancelled"
    again = httpx.post(f"{url}/v1/plans/{pid}/approve", json={"actor": "bob"}, headers=mt.AUTH)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"plan {pid} cannot go from 'cancelled' to 'approved' (allowed: none, it is final)"
    )
    # one retraining in flight per model: a second request conflicts, naming the plan in flight
    first = _request(url, "fraud", {"actions": ["retraining"], "actor": "a"}, mt.AUTH).json()
    clash = _request(url, "fraud", {"actions": ["retraining", "investigation"], "actor": "b"}, mt.AUTH)
    assert clash.status_code == 409
    assert clash.json()["detail"] == f"plan {first['id']} (proposed) already covers retraining for fraud"
    # the same request id is idempotent: the same plan back, 200 instead of 201
    body = {"actions": ["investigation"], "actor": "a", "request_id": "req-7"}
    created, replayed = (_request(url, "eta", body, mt.AUTH) for _ in range(2))
    assert (created.status_code, replayed.status_code) == (201, 200)
    assert created.json()["id"] == replayed.json()["id"]


BAD_BODIES = {
    "no actor": ({"reason": "x"}, "actor"),
    "blank actor": ({"actor": "   "}, "actor"),
    "extra field": ({"actor": "a", "force": True}, "force"),
    "not json": (b"{actor", "json"),
}
BAD_REQUESTS = {
    "no actions": ({"actions": [], "actor": "a"}, "actions"),
    "unknown action": ({"actions": ["reboot"], "actor": "a"}, "actions"),
    "duplicate action": ({"actions": ["backup", "backup"], "actor": "a"}, "each action type at most once"),
    "priority out of range": ({"actions": ["backup"], "actor": "a", "priority": 9}, "priority"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_decision_body_is_422(
    case: str, service: tuple[str, Maintenance], proposed: dict[str, Any], mt: Any
) -> None:
    url, _ = service
    body, needle = BAD_BODIES[case]
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = httpx.post(
        f"{url}/v1/plans/{proposed['id']}/approve",
        headers={**mt.AUTH, "Content-Type": "application/json"},
        **kwargs,
    )
    assert response.status_code == 422, response.text
    assert needle in response.text
    assert httpx.get(f"{url}/v1/plans/{proposed['id']}").json()["state"] == "proposed"


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_maintenance_request_is_422(case: str, service: tuple[str, Maintenance], mt: Any) -> None:
    url, _ = service
    body, needle = BAD_REQUESTS[case]
    response = _request(url, "churn", body, mt.AUTH)
    assert response.status_code == 422, response.text
    assert needle in response.text


def test_bad_queries_and_scale_bodies_are_422(service: tuple[str, Maintenance], mt: Any) -> None:
    url, _ = service
    assert httpx.get(f"{url}/v1/plans", params={"state": "sleeping"}).status_code == 422
    assert httpx.get(f"{url}/v1/plans", params={"limit": 0}).status_code == 422
    for body in ({"replicas": -1}, {"replicas": 2, "cpu": "high"}, {"cpu": 0.5}, {"replicas": 2, "lag": -5}):
        response = httpx.post(f"{url}/v1/autoscale/collector", json=body, headers=mt.AUTH)
        assert response.status_code == 422, (body, response.text)


def test_backup_and_cleanup_plan_is_auto_approved_and_really_runs(
    kafka: KafkaSettings, service: tuple[str, Maintenance], tmp_path: Path, mt: Any
) -> None:
    url, m = service
    m.store.r.set(f"{m.store.prefix}drift:reference:churn", "ref")
    m.store.r.set(f"{m.store.prefix}join:churn:p1", json.dumps({"occurred_at": 0}))  # 1970: long expired
    body = {"actions": ["backup", "cleanup"], "actor": "ops", "request_id": "nightly"}
    response = _request(url, SYSTEM_MODEL, body, mt.AUTH)
    assert response.status_code == 201
    plan = response.json()
    assert plan["state"] == "approved"  # backup and cleanup are auto by policy
    assert plan["history"][-1]["actor"] == "policy"
    done = wait_for(
        lambda: (p := httpx.get(f"{url}/v1/plans/{plan['id']}").json())["state"] == "succeeded" and p,
        30,
        "backup/cleanup plan succeeded",
    )
    backup = done["result"]["actions"]["backup"]
    assert Path(backup["path"]).parent == tmp_path / "backups"
    lines = Path(backup["path"]).read_text().splitlines()
    assert any('"drift:reference:churn"' in line for line in lines)
    assert done["result"]["actions"]["cleanup"]["removed"]["pending_predictions"] == 1
    assert m.store.r.get(f"{m.store.prefix}join:churn:p1") is None
    records = consume_n(kafka, kafka.topic(topics.MAINTENANCE.name), 4, timeout_s=30)
    states = [decode_event(r.value()).state for r in records]  # type: ignore[union-attr]
    assert states == ["proposed", "approved", "running", "succeeded"]


def test_autoscale_recommends_without_a_cluster(
    kafka: KafkaSettings, service: tuple[str, Maintenance], mt: Any
) -> None:
    url, _ = service
    up = httpx.post(f"{url}/v1/autoscale/collector", json={"replicas": 2, "cpu": 0.9}, headers=mt.AUTH)
    assert up.status_code == 200, up.text
    assert up.json() == {
        "service": "collector",
        "current": 2,
        "desired": 3,
        "recommended": 3,
        "changed": True,
        "reason": "cpu 0.9 vs target 0.7 -> 3",
        "applied": False,
    }
    # right after a scale-up, a dip does not scale down (stabilisation window + cooldown, kept in Redis)
    down = httpx.post(f"{url}/v1/autoscale/collector", json={"replicas": 3, "cpu": 0.1}, headers=mt.AUTH).json()
    assert (down["desired"], down["recommended"]) == (3, 1)
    assert "held at 3" in down["reason"]
    records = consume_n(kafka, kafka.topic(topics.MAINTENANCE.name), 2, timeout_s=30)
    first = decode_event(records[0].value())
    assert first.result["kind"] == "recommendation"  # type: ignore[union-attr]
    assert first.result["desired"] == 3  # type: ignore[union-attr]
