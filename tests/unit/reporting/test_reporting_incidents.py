from datetime import UTC, datetime, timedelta

from mlmon_common.events import AlertEvent, Severity
from mlmon_reporting.incidents import incidents

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(status: str, minutes: int, sev: Severity = Severity.WARNING, ack: str | None = None) -> AlertEvent:
    return AlertEvent(
        model_id="m",
        fingerprint="f",
        alertname="HighLatency",
        status=status,
        severity=sev,
        labels={},
        starts_at=T0 + timedelta(minutes=minutes),
        occurred_at=T0 + timedelta(minutes=minutes),
        acknowledged_by=ack,
        annotations={"summary": f"at {minutes}"},
    )


def test_refiring_after_resolve_is_a_new_incident_and_escalation_keeps_the_worst_severity() -> None:
    events = [
        ev("resolved", 20),
        ev("firing", 0),
        ev("firing", 5, Severity.CRITICAL, ack="alice"),
        ev("firing", 60),
        ev("resolved", 90),
        ev("firing", 120),
    ]
    got = incidents(events, T0, T0 + timedelta(days=1))
    assert [(i.started_at, i.resolved_at, i.duration_s, i.severity, i.acknowledged_by, i.summary) for i in got] == [
        (T0, T0 + timedelta(minutes=20), 1200.0, "critical", "alice", "at 5"),
        (T0 + timedelta(minutes=60), T0 + timedelta(minutes=90), 1800.0, "warning", None, "at 60"),
        (T0 + timedelta(minutes=120), None, None, "warning", None, "at 120"),
    ]


def test_period_overlap() -> None:
    events = [ev("firing", 0), ev("resolved", 30), ev("firing", 100)]
    inside = incidents(events, T0 + timedelta(minutes=30), T0 + timedelta(minutes=99))
    assert [i.duration_s for i in inside] == [1800.0]  # resolved exactly at the period start still overlaps
    assert incidents(events, T0 + timedelta(minutes=31), T0 + timedelta(minutes=100)) == []
    assert [i.resolved_at for i in incidents(events, T0 + timedelta(hours=5), T0 + timedelta(hours=6))] == [None]
