"""Map mlmon events (``mlmon_common.events``) to time-series points (names in ``series_names``).

>>> from datetime import UTC, datetime
>>> from mlmon_common.events import DriftEvent
>>> ev = DriftEvent(model_id="m", kind="feature", state="started", feature="age", detector="ks", score=0.4,
...                 occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> [(p.series, p.value) for p in points_from_event(ev)]
[('feature_drift.age', 0.4), ('drift.started', 1.0)]
"""

from __future__ import annotations

import math

from mlmon_common.events import (
    AlertEvent,
    DriftEvent,
    Envelope,
    MaintenanceEvent,
    MetricsEvent,
    ResourceEvent,
)
from mlmon_reporting import series_names as sn
from mlmon_reporting.timeseries import Point

_RESOURCE_FIELDS = (
    "cpu_percent",
    "memory_percent",
    "disk_percent",
    "net_bytes_in_per_s",
    "net_bytes_out_per_s",
    "process_cpu_percent",
    "process_rss_bytes",
)
_DRIFT_SERIES = {
    "data": sn.DATA_DRIFT,
    "model": sn.MODEL_DRIFT,
    "concept": sn.CONCEPT_DRIFT,
    "prediction": sn.PREDICTION_DRIFT,
}


def points_from_event(event: Envelope) -> list[Point]:
    """Points for one event; event types reporting does not chart (predictions...) give ``[]``."""
    if isinstance(event, MetricsEvent):
        return _metrics(event)
    if isinstance(event, ResourceEvent):
        return _resource(event)
    if isinstance(event, DriftEvent):
        return _drift(event)
    if isinstance(event, AlertEvent):
        return _alert(event)
    if isinstance(event, MaintenanceEvent):
        return [Point(event.model_id, sn.MAINTENANCE_PREFIX + event.state, event.occurred_at, 1.0)]
    return []


def _metrics(ev: MetricsEvent) -> list[Point]:
    """One point per value at ``window_start``; a window replaces its bucket (the bucket's newest window wins,
    and of one window its newest revision)."""
    return [
        Point(ev.model_id, name, ev.window_start, value, mode="replace", revision=ev.revision)
        for name, value in sorted(ev.values.items())
        if math.isfinite(value)
    ]


def _resource(ev: ResourceEvent) -> list[Point]:
    out = []
    for name in _RESOURCE_FIELDS:
        value = getattr(ev, name)
        if value is not None:
            out.append(Point(ev.model_id, sn.RESOURCE_PREFIX + name, ev.occurred_at, float(value)))
    return out


def _drift(ev: DriftEvent) -> list[Point]:
    if ev.kind == "feature":
        if ev.feature is None:
            return []
        series = sn.feature_drift(ev.feature)
    else:
        series = _DRIFT_SERIES[ev.kind]
    out = [Point(ev.model_id, series, ev.occurred_at, ev.score)]
    if ev.state == "started":
        out.append(Point(ev.model_id, sn.DRIFT_STARTED, ev.occurred_at, 1.0))
    return out


def _alert(ev: AlertEvent) -> list[Point]:
    if ev.status == "firing":
        level = ev.severity.name.lower()
        return [
            Point(ev.model_id, sn.ALERTS_FIRING, ev.occurred_at, 1.0),
            Point(ev.model_id, f"{sn.ALERTS_FIRING}.{level}", ev.occurred_at, 1.0),
        ]
    if ev.status == "resolved":
        return [Point(ev.model_id, sn.ALERTS_RESOLVED, ev.occurred_at, 1.0)]
    return []
