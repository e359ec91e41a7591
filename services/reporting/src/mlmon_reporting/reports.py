"""``MonitoringReports.generate_report``: daily/weekly report as JSON, Markdown and self-contained HTML.

Sections: fleet health summary, per-model figures, incidents, drift, maintenance done, trends and forecasts.
The service fills :class:`ReportData` from its store (``metrics`` from ``PerformanceMonitor`` over the
period, event lists from its capped event logs); ``ReportData.from_events`` builds it from raw events.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from mlmon_common.events import AlertEvent, DriftEvent, Envelope, MaintenanceEvent, Severity
from mlmon_reporting.api_shapes import MetricsResponse
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.forecast_alerts import forecast_alert
from mlmon_reporting.incidents import Incident, incidents
from mlmon_reporting.memory_store import InMemorySeriesStore
from mlmon_reporting.monitor import PerformanceMonitor, health
from mlmon_reporting.report_render import render_html, render_markdown
from mlmon_reporting.trends import analyze_trends

ReportType = Literal["daily", "weekly"]
REPORT_TYPES: tuple[str, ...] = ("daily", "weekly")
SEVERITIES = ("critical", "warning", "info")
TREND_SERIES = ("accuracy", "latency_p95_s", "error_rate", "throughput_per_s", "data_drift", "model_drift")


class ReportData(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    period_start: AwareDatetime
    period_end: AwareDatetime
    metrics: dict[str, MetricsResponse] = Field(default_factory=dict)
    alerts: list[AlertEvent] = Field(default_factory=list)
    drift: list[DriftEvent] = Field(default_factory=list)
    maintenance: list[MaintenanceEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _period(self) -> ReportData:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        return self

    @classmethod
    def from_events(
        cls, events: Iterable[Envelope], start: datetime, end: datetime, config: ReportingConfig | None = None
    ) -> ReportData:
        """Replay events through an in-memory store and query each model over the period."""
        store = InMemorySeriesStore()
        alerts, drift, maint = [], [], []
        for ev in events:
            store.ingest(ev)
            if isinstance(ev, AlertEvent):
                alerts.append(ev)
            elif isinstance(ev, DriftEvent):
                drift.append(ev)
            elif isinstance(ev, MaintenanceEvent):
                maint.append(ev)
        hours = max(1, round((end - start).total_seconds() / 3600))
        monitor = PerformanceMonitor(store, config, clock=lambda: end)
        metrics = {m: monitor.monitor_metrics(m, f"{hours}h") for m in store.models()}
        return cls(period_start=start, period_end=end, metrics=metrics, alerts=alerts, drift=drift, maintenance=maint)


@dataclass(frozen=True)
class Report:
    data: dict[str, Any]
    markdown: str
    html: str

    @property
    def json(self) -> str:
        return json.dumps(self.data, indent=2, sort_keys=False)


class MonitoringReports:
    def __init__(self, config: ReportingConfig | None = None) -> None:
        self.config = config or ReportingConfig()

    def generate_report(
        self, data: ReportData, report_type: str = "daily", *, generated_at: datetime | None = None
    ) -> Report:
        if report_type not in REPORT_TYPES:
            raise ValueError(f"report_type: expected one of {', '.join(REPORT_TYPES)}, got {report_type!r}")
        start, end = data.period_start, data.period_end
        incs = incidents(data.alerts, start, end)
        models = sorted(set(data.metrics) | {i.model_id for i in incs})
        doc: dict[str, Any] = {
            "report_type": report_type,
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "generated_at": (generated_at or end).isoformat(),
            "models": [self._model(m, data.metrics.get(m), incs) for m in models],
            "incidents": incident_summary(incs),
            "drift": drift_summary(data.drift, start, end),
            "maintenance": maintenance_summary(data.maintenance, start, end),
        }
        doc["fleet"] = {"models": len(models), **Counter(m["status"] for m in doc["models"])}
        doc["forecasts"] = [f for m in doc["models"] for f in m["forecasts"]]
        charts = {m: data.metrics[m] for m in models if m in data.metrics}
        return Report(doc, render_markdown(doc), render_html(doc, charts, self.config))

    def _model(self, model_id: str, resp: MetricsResponse | None, incs: list[Incident]) -> dict[str, Any]:
        open_sev = [
            Severity[i.severity.upper()].value for i in incs if i.model_id == model_id and i.resolved_at is None
        ]
        out: dict[str, Any] = {
            "model_id": model_id,
            "status": health(resp, open_sev) if resp else "unknown",
            "alerts_fired": sum(1 for i in incs if i.model_id == model_id),
            "breaches": list(resp.breaches) if resp else [],
            "metrics": {},
            "trends": [],
            "forecasts": [],
        }
        if resp is None:
            return out
        out["metrics"] = {
            k: {"mean": s.mean, "min": s.min, "max": s.max, "last": s.last} for k, s in resp.summary.items() if s
        }
        out["trends"], out["forecasts"] = self._trends(model_id, resp)
        return out

    def _trends(self, model_id: str, resp: MetricsResponse) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Trend rows and forecast alerts of the thresholded/core series over the response's span."""
        span = f"{max(1, round((resp.end - resp.start).total_seconds() / 3600))}h"
        sub = resp.model_copy(update={"series": {n: d for n, d in resp.series.items() if n in TREND_SERIES}})
        trends, forecasts = [], []
        thresholds = self.config.thresholds_for(model_id)
        for name, tr in analyze_trends(sub, span, now=resp.end, thresholds=thresholds).items():
            trends.append(
                {
                    "metric": name,
                    "slope_per_day": tr.slope_per_day,
                    "relative_change": tr.relative_change,
                    "change_points": [c.at.isoformat() for c in tr.change_points],
                    "seasonal": tr.seasonal,
                }
            )
            cand = forecast_alert(model_id, tr.forecast) if tr.forecast else None
            if cand is not None and tr.forecast is not None:
                forecasts.append(
                    {
                        "model_id": model_id,
                        "metric": name,
                        "severity": cand.severity.name.lower(),
                        "message": cand.annotations["summary"],
                        "eta_days": tr.forecast.eta_days,
                    }
                )
        return trends, forecasts


def incident_summary(incs: list[Incident]) -> dict[str, Any]:
    resolved = [i.duration_s for i in incs if i.duration_s is not None]
    return {
        "total": len(incs),
        "open": sum(1 for i in incs if i.resolved_at is None),
        "resolved": len(resolved),
        "by_severity": {s: sum(1 for i in incs if i.severity == s) for s in SEVERITIES},
        "mttr_s": sum(resolved) / len(resolved) if resolved else None,
        "items": [i.model_dump(mode="json") for i in incs],
    }


def drift_summary(events: Iterable[DriftEvent], start: datetime, end: datetime) -> dict[str, Any]:
    within = sorted((e for e in events if start <= e.occurred_at < end), key=lambda e: e.occurred_at)
    started = [e for e in within if e.state == "started"]
    by_model: dict[str, dict[str, Any]] = {}
    for e in within:
        m = by_model.setdefault(e.model_id, {"started": 0, "features": [], "max_data_drift": None})
        if e.state == "started":
            m["started"] += 1
            if e.kind == "feature" and e.feature and e.feature not in m["features"]:
                m["features"].append(e.feature)
        if e.kind == "data":
            m["max_data_drift"] = max(e.score, m["max_data_drift"] or e.score)
    return {
        "started": len(started),
        "by_kind": dict(sorted(Counter(e.kind for e in started).items())),
        "by_model": dict(sorted(by_model.items())),
    }


def maintenance_summary(events: Iterable[MaintenanceEvent], start: datetime, end: datetime) -> dict[str, Any]:
    latest: dict[str, MaintenanceEvent] = {}
    for e in sorted((e for e in events if start <= e.occurred_at < end), key=lambda e: e.occurred_at):
        latest[e.plan_id] = e
    plans = sorted(latest.values(), key=lambda e: e.occurred_at)
    states = Counter(e.state for e in plans)
    return {
        "plans": len(plans),
        "succeeded": states["succeeded"],
        "failed": states["failed"],
        "cancelled": states["cancelled"],
        "in_progress": states["proposed"] + states["approved"] + states["running"],
        "items": [
            {
                "plan_id": e.plan_id,
                "model_id": e.model_id,
                "state": e.state,
                "actions": e.actions,
                "at": e.occurred_at.isoformat(),
                "reason": e.reason,
                "actor": e.actor,
            }
            for e in plans
        ],
    }
