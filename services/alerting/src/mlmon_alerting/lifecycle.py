"""Alert lifecycle: inactive -> pending -> firing -> resolved, as pure functions over plain dicts.

The state of one alert is a JSON-safe ``dict`` (the lead stores it in Redis under its fingerprint).
Each function takes the old state, an observation or command, and ``now``; it returns the new state
and the :class:`AlertEvent` to publish when the lifecycle changed (``None`` otherwise).

- ``pending`` starts at the first breach; it becomes ``firing`` once the breach held ``for_s``
  seconds and ``for_windows`` consecutive observations; any non-breaching observation drops it.
- ``firing`` resolves only once the value is *cleared* (back inside by the rule's hysteresis),
  or when the alert was not observed for ``resolve_timeout`` (:func:`expire`).
- Event ids are derived from (fingerprint, status, since, acknowledgement), so replaying the same
  input yields the same events and consumers dedupe them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from mlmon_alerting.actions import process_alert
from mlmon_alerting.rules import Alert
from mlmon_common.events import AlertEvent, Severity

State = dict[str, Any]
Transition = tuple[State | None, AlertEvent | None]
ACTIVE = ("pending", "firing")
_NS = uuid.UUID("6c1d7a52-4a1e-4f43-9d5e-0d6c2f8e9a10")


def _iso(t: datetime) -> str:
    return t.isoformat()


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def new_state(alert: Alert, now: datetime) -> State:
    """A fresh pending state for a breaching observation."""
    return {
        "fingerprint": alert.fingerprint,
        "alertname": alert.alertname,
        "alert_type": alert.alert_type,
        "rule": alert.rule,
        "severity": int(alert.severity),
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "status": "pending",
        "active_since": _iso(now),
        "streak": 1,
        "starts_at": None,
        "ends_at": None,
        "value": alert.value,
        "threshold": alert.threshold,
        "first_seen": _iso(now),
        "last_seen": _iso(now),
        "acknowledged_by": None,
        "acknowledged_at": None,
    }


def _ready(state: State, alert: Alert, now: datetime) -> bool:
    since = _dt(state["active_since"])
    assert since is not None
    return now - since >= timedelta(seconds=alert.for_s) and state["streak"] >= alert.for_windows


def _fire(state: State, now: datetime) -> Transition:
    state.update(status="firing", starts_at=_iso(now), ends_at=None)
    return state, to_event(state, now)


def observe(state: State | None, alert: Alert, now: datetime) -> Transition:
    """Apply one evaluation of the alert's rule (breached or not) to its state."""
    status = state["status"] if state else "inactive"
    if status not in ACTIVE:
        if not alert.breached:
            return state, None
        fresh = new_state(alert, now)
        if state:
            fresh["first_seen"] = state.get("first_seen", fresh["first_seen"])
        return _fire(fresh, now) if _ready(fresh, alert, now) else (fresh, to_event(fresh, now))
    assert state is not None
    state = dict(state, last_seen=_iso(now), value=alert.value, threshold=alert.threshold)
    if alert.breached:
        state["streak"] += 1
        if alert.annotations:
            state["annotations"] = dict(alert.annotations)
        if status == "pending" and _ready(state, alert, now):
            return _fire(state, now)
        return state, None
    if status == "pending":
        return _resolve(state, now)
    return _resolve(state, now) if alert.cleared else (state, None)


def _resolve(state: State, now: datetime) -> Transition:
    state = dict(state, status="resolved", ends_at=_iso(now), streak=0)
    return state, to_event(state, now)


def expire(state: State, now: datetime, resolve_timeout: float) -> Transition:
    """Resolve an active alert not observed for ``resolve_timeout`` seconds (its source went away)."""
    last = _dt(state.get("last_seen"))
    if state["status"] in ACTIVE and last is not None and now - last >= timedelta(seconds=resolve_timeout):
        return _resolve(state, now)
    return state, None


def acknowledge(state: State, by: str, now: datetime) -> Transition:
    """Record that ``by`` took the alert; only pending or firing alerts can be acknowledged."""
    if not by.strip():
        raise ValueError("acknowledged_by must not be empty")
    if state["status"] not in ACTIVE:
        raise ValueError(
            f"alert {state['fingerprint']} is {state['status']}; only pending or firing can be acknowledged"
        )
    if state.get("acknowledged_by") == by:
        return state, None
    state = dict(state, acknowledged_by=by, acknowledged_at=_iso(now))
    return state, to_event(state, now)


def event_id(state: State) -> str:
    """Deterministic id of the event a state produces (replays produce the same id)."""
    since = state["ends_at"] if state["status"] == "resolved" else state["starts_at"] or state["active_since"]
    key = f"{state['fingerprint']}|{state['status']}|{since}|{state.get('acknowledged_by') or ''}"
    return str(uuid.uuid5(_NS, key))


def to_event(state: State, now: datetime) -> AlertEvent:
    """The ``mlmon.alerts.v1`` event describing ``state``."""
    starts = _dt(state["starts_at"]) or _dt(state["active_since"])
    return AlertEvent(
        event_id=event_id(state),
        occurred_at=now,
        model_id=state["labels"]["model_id"],
        fingerprint=state["fingerprint"],
        alertname=state["alertname"],
        status=state["status"],
        severity=Severity(state["severity"]),
        labels=state["labels"],
        annotations=state["annotations"],
        starts_at=starts,
        ends_at=_dt(state["ends_at"]),
        value=state["value"],
        acknowledged_by=state.get("acknowledged_by"),
        recommended_actions=process_alert(state),
    )


def was_fired(state: State) -> bool:
    """True when the alert reached ``firing`` (only those are notified, also when they resolve)."""
    return state.get("starts_at") is not None
