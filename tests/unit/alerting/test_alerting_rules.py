"""Threshold rules over metrics, resource and drift events; lifecycle transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlmon_alerting.config import parse_config
from mlmon_alerting.lifecycle import State, acknowledge, event_id, expire, observe, was_fired
from mlmon_alerting.rules import Alert, AlertManager
from mlmon_common.events import AlertEvent, DriftEvent, MetricsEvent, ResourceEvent, Severity

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CFG = parse_config(
    """
route: {receiver: ops}
receivers: [{name: ops}]
thresholds:
  models: {strict: {accuracy_min: 0.99}}
  services: {api: {cpu_max: 50}}
rules:
  accuracy_min: {for: 2m, labels: {team: ml}}
  latency_max: {for_windows: 3}
  memory_max: {enabled: false}
"""
)


def metrics(values: dict[str, float], model: str = "churn", at: datetime = T0) -> MetricsEvent:
    return MetricsEvent(model_id=model, occurred_at=at, window_start=at, window_end=at, values=values)


def manager() -> AlertManager:
    return AlertManager(CFG.rules, CFG.thresholds)


def test_metrics_event_breaches_and_clears() -> None:
    ev = metrics({"accuracy": 0.9, "latency_p95_s": 0.2, "error_rate": 0.2, "f1": 0.1})
    found = {a.alertname: a for a in manager().evaluate(ev)}
    assert sorted(found) == ["ModelAccuracyLow", "ModelLatencyHigh", "PredictionErrorRateHigh"]
    acc = found["ModelAccuracyLow"]
    assert (acc.breached, acc.cleared, acc.value, acc.threshold) == (True, False, 0.9, 0.95)
    assert acc.severity is Severity.CRITICAL
    assert acc.labels == {
        "team": "ml",
        "alertname": "ModelAccuracyLow",
        "alert_type": "performance_degraded",
        "severity": "critical",
        "model_id": "churn",
    }
    assert acc.annotations["summary"] == "churn: accuracy 0.900 below 0.95"
    assert acc.for_s == 120.0
    assert acc.source_event_id == ev.event_id
    lat = found["ModelLatencyHigh"]  # exactly at the threshold: not breached; within hysteresis: not cleared
    assert (lat.breached, lat.cleared, lat.for_windows) == (False, False, 3)
    assert lat.annotations == {}
    assert found["PredictionErrorRateHigh"].alert_type == "prediction_errors"


def test_check_thresholds_returns_only_breaches() -> None:
    ev = metrics({"accuracy": 0.97, "latency_p95_s": 0.5})
    assert [a.alertname for a in manager().check_thresholds(ev)] == ["ModelLatencyHigh"]
    assert manager().check_thresholds(metrics({})) == []


def test_hysteresis_boundaries() -> None:
    m = manager()
    acc = {round(v, 3): m.evaluate(metrics({"accuracy": v}))[0] for v in (0.949, 0.95, 0.959, 0.96)}
    assert [(a.breached, a.cleared) for a in acc.values()] == [
        (True, False),
        (False, False),
        (False, False),
        (False, True),
    ]


def test_model_override_and_explicit_thresholds() -> None:
    m = manager()
    assert m.check_thresholds(metrics({"accuracy": 0.98}, model="strict"))[0].threshold == 0.99
    custom = CFG.thresholds.defaults.model_copy(update={"accuracy_min": 0.5})
    assert m.check_thresholds(metrics({"accuracy": 0.6}), thresholds=custom) == []


def test_resource_event_uses_service_override_and_skips_disabled_rule() -> None:
    ev = ResourceEvent(
        model_id="api", service="api", host="h1", pod="p-1", cpu_percent=60, memory_percent=99, disk_percent=95
    )
    alerts = manager().check_thresholds(ev)
    assert [(a.alertname, a.threshold) for a in alerts] == [("CPUUsageHigh", 50), ("DiskUsageHigh", 90)]
    assert alerts[0].labels["host"] == "h1"
    assert alerts[0].labels["pod"] == "p-1"
    assert alerts[0].annotations["summary"] == "api on h1: CPU 60.0% above 50.0%"
    no_disk = ResourceEvent(model_id="x", service="x", host="h", cpu_percent=1, memory_percent=1)
    assert [a.alertname for a in manager().evaluate(no_disk)] == ["CPUUsageHigh"]


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [("data", 0.3, ["DataDrift"]), ("model", 0.2, ["ModelDrift"]), ("model", 0.1, []), ("feature", 9.0, [])],
)
def test_drift_events(kind: str, score: float, expected: list[str]) -> None:
    ev = DriftEvent(model_id="churn", kind=kind, state="started", detector="psi", score=score)
    assert [a.alertname for a in manager().check_thresholds(ev)] == expected


def test_fingerprint_identifies_the_alert_not_the_value() -> None:
    a = manager().check_thresholds(metrics({"accuracy": 0.1}))[0]
    b = manager().check_thresholds(metrics({"accuracy": 0.5}, at=T0 + timedelta(minutes=5)))[0]
    c = manager().check_thresholds(metrics({"accuracy": 0.5}, model="other"))[0]
    assert a.fingerprint == b.fingerprint != c.fingerprint


# --- lifecycle ------------------------------------------------------------------------------------


def acc(value: float, at: datetime) -> Alert:
    return manager().evaluate(metrics({"accuracy": value}, at=at))[0]


def step(state: State | None, value: float, seconds: float) -> tuple[State, AlertEvent | None]:
    at = T0 + timedelta(seconds=seconds)
    new, ev = observe(state, acc(value, at), at)
    assert new is not None
    return new, ev


def status(ev: AlertEvent | None) -> str | None:
    return ev.status if ev is not None else None


def test_for_duration_pending_then_firing_then_resolved_with_hysteresis() -> None:
    s, ev = step(None, 0.9, 0)
    assert status(ev) == "pending"
    assert ev is not None
    assert ev.starts_at == T0
    s, ev = step(s, 0.9, 119)
    assert status(ev) is None
    assert s["status"] == "pending"
    s, ev = step(s, 0.9, 120)
    assert status(ev) == "firing"
    assert ev is not None
    assert ev.starts_at == T0 + timedelta(seconds=120)
    assert ev.recommended_actions[-1] == "page the model owner (critical)"
    assert was_fired(s)
    s, ev = step(s, 0.955, 180)  # inside the hysteresis band: still firing
    assert status(ev) is None
    assert s["status"] == "firing"
    s, ev = step(s, 0.97, 240)
    assert status(ev) == "resolved"
    assert ev is not None
    assert (ev.starts_at, ev.ends_at) == (T0 + timedelta(seconds=120), T0 + timedelta(seconds=240))


def test_pending_drops_on_first_good_observation_and_restarts() -> None:
    s, _ = step(None, 0.9, 0)
    s, ev = step(s, 0.951, 60)
    assert status(ev) == "resolved"
    assert not was_fired(s)
    s, ev = step(s, 0.9, 90)
    assert status(ev) == "pending"
    assert s["active_since"] == "2026-11-27T09:01:30+00:00"
    assert s["first_seen"] == "2026-11-27T09:00:00+00:00"


def test_for_windows_counts_consecutive_observations() -> None:
    m = manager()
    lat = [m.evaluate(metrics({"latency_p95_s": 1.0}))[0] for _ in range(3)]
    s, ev = observe(None, lat[0], T0)
    assert status(ev) == "pending"
    s, ev = observe(s, lat[1], T0)
    assert status(ev) is None
    s, ev = observe(s, lat[2], T0)
    assert status(ev) == "firing"


def test_no_state_and_no_breach_is_a_no_op() -> None:
    assert observe(None, acc(0.99, T0), T0) == (None, None)


def test_expire_resolves_stale_alerts_only_after_timeout() -> None:
    s, _ = step(None, 0.9, 0)
    assert expire(s, T0 + timedelta(seconds=299), 300) == (s, None)
    s2, ev = expire(s, T0 + timedelta(seconds=300), 300)
    assert status(ev) == "resolved"
    assert s2 is not None
    assert s2["ends_at"] == "2026-11-27T09:05:00+00:00"
    assert expire(s2, T0 + timedelta(days=1), 300)[1] is None


def test_acknowledge() -> None:
    s, _ = step(None, 0.9, 0)
    s2, ev = acknowledge(s, "ana", T0 + timedelta(seconds=5))
    assert status(ev) == "pending"
    assert ev is not None
    assert ev.acknowledged_by == "ana"
    assert s2 is not None
    assert s2["acknowledged_at"] == "2026-11-27T09:00:05+00:00"
    assert acknowledge(s2, "ana", T0)[1] is None
    with pytest.raises(ValueError, match="acknowledged_by must not be empty"):
        acknowledge(s2, " ", T0)
    resolved, _ = step(s2, 0.99, 10)
    with pytest.raises(ValueError, match="is resolved; only pending or firing can be acknowledged"):
        acknowledge(resolved, "bob", T0)


def test_event_ids_are_deterministic_for_replays() -> None:
    s1, e1 = step(None, 0.9, 0)
    _, e2 = step(None, 0.8, 0)
    assert e1 is not None
    assert e2 is not None
    assert e1.event_id == e2.event_id
    acked, _ = acknowledge(s1, "ana", T0)
    assert acked is not None
    assert event_id(s1) != event_id(acked)


def test_identity_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlmon_alerting import rules

    monkeypatch.setattr(rules, "CACHE_MAX", 2)
    m = manager()
    for model in ("a", "b", "c"):
        m.evaluate(metrics({"accuracy": 0.5}, model=model))
    assert len(m._identities) == 1
    assert len(m._resolved) == 1


def test_alert_manager_process_alert() -> None:
    (a,) = manager().check_thresholds(drift_event("data", 0.5))
    assert AlertManager.process_alert(a)[0] == "check the input data pipeline for schema or upstream changes"


def drift_event(kind: str, score: float) -> DriftEvent:
    return DriftEvent(model_id="churn", kind=kind, state="started", detector="psi", score=score)
