"""Alert -> plan -> approval -> local retraining job -> verification -> history, on the real broker.

A data-drift alert creates one retraining plan; approving it over HTTP runs the shipped retraining script
on the model's recent outcomes; the candidate is promoted (no model in production yet) with its metrics
recorded and the drift reference reset; a second, requested retraining on the same data is rejected by
verification. Replaying the same alerts creates no second plan and no second job.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mlmon_common import topics
from mlmon_common.events import MetricsEvent, decode_event
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import consume_n, wait_for
from mlmon_maintenance.app import Maintenance

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _plans(url: str, model: str, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/v1/plans", params={"model": model, **params})
    assert response.status_code == 200, response.text
    plans: list[dict[str, Any]] = response.json()["plans"]
    return plans


def _plan(url: str, plan_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(f"{url}/v1/plans/{plan_id}").json()
    return doc


def _finished(url: str, plan_id: str) -> dict[str, Any] | None:
    plan = _plan(url, plan_id)
    return plan if plan["state"] in ("succeeded", "failed", "cancelled") else None


def _marker(kafka: KafkaSettings, m: Maintenance, name: str, produce: Any) -> None:
    """Send a metrics event for a throwaway model and wait until the service handled it."""
    event = MetricsEvent(model_id=name, window_start=T0, window_end=T0, values={"count": 1.0})
    produce(kafka, topics.METRICS.name, [event])
    wait_for(lambda: name in m.store.models(), 30, f"marker {name} consumed")


def test_drift_alert_to_verified_retraining_and_replay(
    kafka: KafkaSettings, service: tuple[str, Maintenance], tmp_path: Path, mt: Any
) -> None:
    url, m = service
    produce, auth = mt.produce, mt.AUTH
    model = "churn"
    produce(kafka, topics.OUTCOMES.name, mt.outcomes(model, 400))  # type: ignore[arg-type]
    wait_for(lambda: len(m.store.rows(model)) == 400, 60, "400 training rows in the window")

    alert = mt.drift_alert(model)
    produce(kafka, topics.ALERTS.name, [alert])
    plans = wait_for(lambda: _plans(url, model), 60, "a plan from the drift alert")
    assert len(plans) == 1
    plan = plans[0]
    assert [a["type"] for a in plan["actions"]] == ["retraining"]
    assert plan["state"] == "proposed"  # retraining needs a human by default
    assert plan["reasons"][0]["ref"] == alert.fingerprint
    assert plan["priority"] == 2  # the alert's severity (warning)

    approved = httpx.post(
        f"{url}/v1/plans/{plan['id']}/approve", json={"actor": "alice", "reason": "drift confirmed"}, headers=auth
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    done = wait_for(lambda: _finished(url, plan["id"]), 60, "retraining plan finished")
    assert done["state"] == "succeeded", done["result"]
    verification = done["result"]["verification"]
    assert verification["decision"] == "promote"
    assert verification["before"] is None
    assert verification["reason"] == "no current model"
    assert verification["after"]["accuracy"] > 0.75  # learnable task, 10% label noise
    assert verification["holdout_rows"] == 80  # 20% of 400
    assert done["result"]["promoted"] is True
    assert [(h["actor"], h["to_state"]) for h in done["history"]] == [
        ("planner", "proposed"),
        ("alice", "approved"),
        ("worker", "running"),
        ("worker", "succeeded"),
    ]
    assert done["history"][1]["why"] == "drift confirmed"
    reset_at = m.store.r.get(m.store.reset_key(model))
    assert reset_at is not None
    assert done["result"]["drift_reference_reset"]["at"] == reset_at.decode()
    assert json.loads(m.store.production_model(model) or "{}")["features"] == ["x1", "x2"]
    jobs = sorted(p.name for p in (tmp_path / "jobs").iterdir())
    assert len(jobs) == 1

    # replay: the same alert again (same event), and again with a new event id -> no second plan or job
    produce(kafka, topics.ALERTS.name, [alert, alert.model_copy(update={"event_id": "replayed-copy"})])
    _marker(kafka, m, "marker-1", produce)
    wait_for(lambda: m.store.r.get(m.store.plan_key(plan["id"])) is not None, 5, "plan still there")
    assert len(_plans(url, model)) == 1
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == jobs

    # a requested second retraining on the same data: the candidate is no better -> rejected, not promoted
    requested = httpx.post(
        f"{url}/v1/models/{model}/maintenance",
        json={"actions": ["retraining"], "actor": "bob", "reason": "weekly check", "request_id": "r-1"},
        headers=auth,
    )
    assert requested.status_code == 201, requested.text
    second = requested.json()
    httpx.post(f"{url}/v1/plans/{second['id']}/approve", json={"actor": "bob"}, headers=auth).raise_for_status()
    done2 = wait_for(lambda: _finished(url, second["id"]), 60, "second retraining finished")
    assert done2["state"] == "succeeded", done2["result"]
    v2 = done2["result"]["verification"]
    assert v2["decision"] == "reject"
    assert done2["result"]["promoted"] is False
    assert v2["before"] is not None
    assert v2["improvement"] < v2["margin"]
    assert m.store.r.get(m.store.reset_key(model)) == reset_at  # no promotion, no reset

    history = httpx.get(f"{url}/v1/models/{model}/history").json()
    assert [p["id"] for p in history["plans"]] == [second["id"], plan["id"]]

    # every state change of both plans is on mlmon.maintenance.v1, ids deterministic (no duplicates)
    expected = 8
    records = consume_n(kafka, kafka.topic(topics.MAINTENANCE.name), expected, timeout_s=30)
    events = [decode_event(r.value()) for r in records]
    by_plan: dict[str, list[str]] = {}
    for e in events:
        by_plan.setdefault(e.plan_id, []).append(e.state)  # type: ignore[union-attr]
    assert by_plan == {
        plan["id"]: ["proposed", "approved", "running", "succeeded"],
        second["id"]: ["proposed", "approved", "running", "succeeded"],
    }
    assert len({e.event_id for e in events}) == expected
    final = next(e for e in events if e.plan_id == plan["id"] and e.state == "succeeded")  # type: ignore[union-attr]
    assert final.result["verification"]["decision"] == "promote"  # type: ignore[union-attr]
    assert final.result["drift_reference_reset"]["key"].endswith(f"drift:reference_reset:{model}")  # type: ignore[union-attr]


def test_one_plan_per_incident_from_alerts_and_metrics(
    kafka: KafkaSettings, service: tuple[str, Maintenance], mt: Any
) -> None:
    url, m = service
    produce = mt.produce
    # model A: an alert that fires then resolves -> one plan; later threshold breaches add none (in flight)
    produce(kafka, topics.ALERTS.name, [mt.drift_alert("fraud", "fp-a"), mt.drift_alert("fraud", "fp-a", "resolved")])
    wait_for(lambda: "fraud" in m.store.models() and not m.store.alerts("fraud"), 30, "alert fired then resolved")
    # model B: metrics only -> the accuracy drop and the drift share merge into one plan
    windows = [
        MetricsEvent(model_id=model, window_start=T0, window_end=T0, values=values)
        for model in ("fraud", "eta")
        for values in ({"accuracy": 0.9}, {"accuracy": 0.8, "data_drift": 0.3}, {"accuracy": 0.7, "data_drift": 0.5})
    ]
    produce(kafka, topics.METRICS.name, windows)
    for model in ("fraud", "eta"):
        wait_for(lambda model=model: m.store.metrics(model).get("accuracy") == 0.7, 30, f"{model} metrics stored")
    fraud, eta = _plans(url, "fraud"), _plans(url, "eta")
    assert len(fraud) == 1
    assert [r["name"] for r in fraud[0]["reasons"]] == ["DataDriftDetected"]
    assert len(eta) == 1, eta
    assert {r["name"] for r in eta[0]["reasons"]} == {"accuracy_drop", "data_drift"}
    assert m.store.baseline("eta")["accuracy"] == 0.9  # first sight sets the baseline
