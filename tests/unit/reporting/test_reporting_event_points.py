from datetime import UTC, datetime, timedelta

from mlmon_common.events import (
    AlertEvent,
    DriftEvent,
    MaintenanceEvent,
    MetricsEvent,
    PredictionEvent,
    ResourceEvent,
    Severity,
)
from mlmon_reporting.event_points import points_from_event

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _sv(points: list) -> list[tuple[str, float]]:
    return [(p.series, p.value) for p in points]


def test_metrics_values_become_replace_points_at_window_start() -> None:
    ev = MetricsEvent(
        model_id="m",
        occurred_at=T0 + timedelta(minutes=2),
        window_start=T0,
        window_end=T0 + timedelta(minutes=1),
        revision=2,
        values={"latency_p95_s": 0.12, "accuracy": 0.96},
    )
    pts = points_from_event(ev)
    assert _sv(pts) == [("accuracy", 0.96), ("latency_p95_s", 0.12)]
    assert {(p.ts, p.mode, p.revision, p.model_id) for p in pts} == {(T0, "replace", 2, "m")}


def test_resource_fields_become_prefixed_merge_points() -> None:
    ev = ResourceEvent(
        model_id="m", occurred_at=T0, service="collector", host="h1", cpu_percent=55.0, memory_percent=40.5
    )
    pts = points_from_event(ev)
    assert _sv(pts) == [("resource.cpu_percent", 55.0), ("resource.memory_percent", 40.5)]
    assert {p.mode for p in pts} == {"merge"}


def test_drift_kinds_map_to_series() -> None:
    def drift(kind: str, state: str = "snapshot", feature: str | None = None) -> DriftEvent:
        return DriftEvent(
            model_id="m", occurred_at=T0, kind=kind, state=state, feature=feature, detector="psi", score=0.3
        )

    assert _sv(points_from_event(drift("data"))) == [("data_drift", 0.3)]
    assert _sv(points_from_event(drift("model", "started"))) == [("model_drift", 0.3), ("drift.started", 1.0)]
    assert _sv(points_from_event(drift("concept"))) == [("concept_drift", 0.3)]
    assert _sv(points_from_event(drift("prediction"))) == [("prediction_drift", 0.3)]
    assert _sv(points_from_event(drift("feature", feature="age"))) == [("feature_drift.age", 0.3)]
    assert points_from_event(drift("feature")) == []  # feature drift without a feature name: nothing to chart


def test_alerts_count_transitions_by_severity() -> None:
    def alert(status: str, severity: Severity) -> AlertEvent:
        return AlertEvent(
            model_id="m",
            occurred_at=T0,
            fingerprint="f",
            alertname="LowAccuracy",
            status=status,
            severity=severity,
            labels={},
            starts_at=T0,
        )

    assert _sv(points_from_event(alert("firing", Severity.CRITICAL))) == [
        ("alerts.firing", 1.0),
        ("alerts.firing.critical", 1.0),
    ]
    assert _sv(points_from_event(alert("resolved", Severity.INFO))) == [("alerts.resolved", 1.0)]
    assert points_from_event(alert("pending", Severity.WARNING)) == []


def test_maintenance_and_unrelated_events() -> None:
    ev = MaintenanceEvent(model_id="m", occurred_at=T0, plan_id="p1", state="succeeded", actions=["retrain"])
    assert _sv(points_from_event(ev)) == [("maintenance.succeeded", 1.0)]
    assert points_from_event(PredictionEvent(model_id="m", prediction_id="p")) == []
