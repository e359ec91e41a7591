"""Response shapes of the reporting HTTP API, as pydantic models (the lead wires them to FastAPI).

Times are epoch seconds (floats) in chart arrays -- uPlot's native x axis -- and RFC 3339 elsewhere.

``GET /v1/models`` -> :class:`ModelsResponse`::

    {"models": [{"model_id": "churn", "status": "degraded", "last_seen": "2026-01-01T12:00:00Z",
                 "firing_alerts": 1, "breaches": ["accuracy < 0.95"],
                 "key_metrics": {"accuracy": 0.93, "latency": 0.12, "data_drift": 0.2}}]}

``GET /v1/models/{id}/metrics?timeframe=24h`` -> :class:`MetricsResponse` (``PerformanceMonitor``)::

    {"model_id": "churn", "timeframe": "24h", "start": "...", "end": "...", "resolution_s": 60,
     "summary": {"accuracy": {"series": "accuracy", "last": 0.93, "mean": 0.95, "min": 0.9, "max": 0.98,
                              "points": 1440, "threshold": 0.95, "direction": "min", "breached": true},
                 "latency": null, ...},
     "series": {"accuracy": {"t": [1767268800.0, ...], "mean": [...], "min": [...], "max": [...],
                             "last": [...]}, ...},
     "thresholds": [{"series": "accuracy", "value": 0.95, "direction": "min", "label": "accuracy < 0.95"}],
     "breaches": ["accuracy < 0.95"]}

``GET /v1/alerts?model_id=&status=`` -> :class:`AlertsResponse` (latest state per fingerprint, newest first;
``silenced``/``silenced_until`` come from the alerting service's silences, ``acknowledged_by`` from the event).

``GET /v1/models/{id}/drift?timeframe=24h`` -> :class:`DriftResponse`: per-feature heatmap
(``features`` x ``t``; ``scores[i][j]`` = mean score of feature i in bucket j, ``null`` when absent).

``GET /v1/models/{id}/history`` -> :class:`HistoryResponse`: maintenance transitions, newest first.

``GET /v1/models/{id}/dashboard?timeframe=24h`` (optional) -> ``MonitoringDashboard.generate_dashboard``
output (plain JSON, schema ``mlmon.dashboard.v1``); the page falls back to built-in panels on 404.

Static page: serve ``mlmon_reporting/static/`` at ``/`` (``index.html``, ``app.js``, ``style.css``,
``vendor/uplot/``); it calls the endpoints above with relative ``/v1/...`` URLs.

``GET /v1/stream`` (Server-Sent Events): ``event:`` is the ``event_type`` (``metrics``, ``drift``,
``resource``, ``alert``, ``maintenance``), ``data:`` is the event JSON exactly as on the topic
(``mlmon_common.events``), ``id:`` is ``event_id``; a ``: keepalive`` comment every 15 s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlmon_common.events import AlertStatus, PlanState, Severity

Health = Literal["healthy", "degraded", "critical", "unknown"]


class _Shape(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())


class ThresholdLine(_Shape):
    series: str
    value: float
    direction: Literal["min", "max"]
    label: str


class MetricSummary(_Shape):
    series: str
    last: float
    mean: float
    min: float
    max: float
    points: int
    threshold: float | None = None
    direction: Literal["min", "max"] | None = None
    breached: bool = False


class SeriesData(_Shape):
    """Column arrays, one entry per bucket (``t`` = bucket start, epoch seconds)."""

    t: list[float]
    mean: list[float]
    min: list[float]
    max: list[float]
    last: list[float]


class MetricsResponse(_Shape):
    model_id: str
    timeframe: str
    start: datetime
    end: datetime
    resolution_s: int
    summary: dict[str, MetricSummary | None]
    series: dict[str, SeriesData]
    thresholds: list[ThresholdLine]
    breaches: list[str] = Field(default_factory=list)


class ModelSummary(_Shape):
    model_id: str
    status: Health
    last_seen: datetime | None = None
    firing_alerts: int = 0
    breaches: list[str] = Field(default_factory=list)
    key_metrics: dict[str, float | None] = Field(default_factory=dict)


class ModelsResponse(_Shape):
    models: list[ModelSummary]


class AlertView(_Shape):
    fingerprint: str
    model_id: str
    alertname: str
    status: AlertStatus
    severity: Severity
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    value: float | None = None
    acknowledged_by: str | None = None
    silenced: bool = False
    silenced_until: datetime | None = None


class AlertsResponse(_Shape):
    alerts: list[AlertView]


class DriftResponse(_Shape):
    model_id: str
    timeframe: str
    resolution_s: int
    t: list[float]
    features: list[str]
    scores: list[list[float | None]]
    data_drift: SeriesData | None = None


class HistoryItem(_Shape):
    plan_id: str
    state: PlanState
    at: datetime
    actions: list[str]
    reason: str = ""
    actor: str | None = None


class HistoryResponse(_Shape):
    model_id: str
    items: list[HistoryItem]
