"""Alert lifecycle events -> incidents (one per firing episode of a fingerprint).

>>> from datetime import UTC, datetime, timedelta
>>> from mlmon_common.events import AlertEvent, Severity
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> def ev(status, minutes):
...     return AlertEvent(model_id="m", fingerprint="f1", alertname="LowAccuracy", status=status,
...                       severity=Severity.WARNING, labels={}, starts_at=t, occurred_at=t + timedelta(minutes=minutes))
>>> [(i.duration_s, i.severity) for i in incidents([ev("firing", 0), ev("resolved", 30)], t, t + timedelta(days=1))]
[(1800.0, 'warning')]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from mlmon_common.events import AlertEvent


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())

    fingerprint: str
    model_id: str
    alertname: str
    severity: str
    started_at: datetime
    resolved_at: datetime | None
    duration_s: float | None
    acknowledged_by: str | None = None
    summary: str = ""


def incidents(alerts: Iterable[AlertEvent], start: datetime, end: datetime) -> list[Incident]:
    """Episodes overlapping ``[start, end)``, oldest first; ``pending`` events are ignored."""
    by_fp: dict[str, list[AlertEvent]] = defaultdict(list)
    for ev in alerts:
        if ev.status != "pending":
            by_fp[ev.fingerprint].append(ev)
    out: list[Incident] = []
    for events in by_fp.values():
        events.sort(key=lambda e: e.occurred_at)
        out.extend(i for i in _episodes(events) if _overlaps(i, start, end))
    out.sort(key=lambda i: (i.started_at, i.fingerprint))
    return out


def _episodes(events: list[AlertEvent]) -> list[Incident]:
    out: list[Incident] = []
    firing: list[AlertEvent] = []
    for ev in events:
        if ev.status == "firing":
            firing.append(ev)
        elif firing:
            out.append(_incident(firing, ev))
            firing = []
    if firing:
        out.append(_incident(firing, None))
    return out


def _incident(firing: list[AlertEvent], resolved: AlertEvent | None) -> Incident:
    first, last = firing[0], firing[-1]
    started = min(e.starts_at for e in firing)
    ended = (resolved.ends_at or resolved.occurred_at) if resolved else None
    acked = next((e.acknowledged_by for e in reversed(firing) if e.acknowledged_by), None)
    return Incident(
        fingerprint=first.fingerprint,
        model_id=first.model_id,
        alertname=first.alertname,
        severity=min(e.severity for e in firing).name.lower(),
        started_at=started,
        resolved_at=ended,
        duration_s=(ended - started).total_seconds() if ended else None,
        acknowledged_by=acked,
        summary=last.annotations.get("summary", ""),
    )


def _overlaps(i: Incident, start: datetime, end: datetime) -> bool:
    return i.started_at < end and (i.resolved_at is None or i.resolved_at >= start)
