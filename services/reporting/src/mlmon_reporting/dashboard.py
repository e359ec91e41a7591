"""``MonitoringDashboard.generate_dashboard``: the live dashboard's configuration as JSON.

The static page (``static/app.js``) renders exactly these panels; the same document is served at
``GET /v1/models/{id}/dashboard?timeframe=24h`` if the lead exposes it.

>>> cfg = MonitoringDashboard().generate_dashboard({}, "24h")
>>> [p["id"] for p in cfg["panels"]][:3]
['health', 'accuracy', 'latency']
>>> cfg["panels"][1]["thresholds"]
[{'value': 0.95, 'direction': 'min', 'color': '#dc2626', 'label': 'accuracy_min 0.95'}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlmon_reporting import series_names as sn
from mlmon_reporting.api_shapes import MetricsResponse
from mlmon_reporting.config import ReportingConfig, Thresholds
from mlmon_reporting.thresholds import THRESHOLD_SERIES
from mlmon_reporting.timeframe import parse_duration

SCHEMA = "mlmon.dashboard.v1"
GRID_COLUMNS = 24

#: (panel id, title, unit, series shown, thresholded series)
TIMESERIES_PANELS: tuple[tuple[str, str, str, tuple[str, ...], str | None], ...] = (
    ("accuracy", "Accuracy", "ratio", (sn.ACCURACY,), sn.ACCURACY),
    ("latency", "Latency", "s", (sn.LATENCY_P50_S, sn.LATENCY_P95_S, sn.LATENCY_P99_S), sn.LATENCY_P95_S),
    ("error_rate", "Error rate", "ratio", (sn.ERROR_RATE,), sn.ERROR_RATE),
    ("throughput", "Throughput", "req/s", (sn.THROUGHPUT_PER_S,), None),
    ("cpu", "CPU", "%", (sn.RESOURCE_CPU_PERCENT, sn.CPU_PERCENT), sn.RESOURCE_CPU_PERCENT),
    ("memory", "Memory", "%", (sn.RESOURCE_MEMORY_PERCENT, sn.MEMORY_PERCENT), sn.RESOURCE_MEMORY_PERCENT),
    ("disk", "Disk", "%", (sn.RESOURCE_DISK_PERCENT, sn.DISK_PERCENT), sn.RESOURCE_DISK_PERCENT),
    ("data_drift", "Data drift (share of features)", "ratio", (sn.DATA_DRIFT,), sn.DATA_DRIFT),
    ("model_drift", "Model drift", "ratio", (sn.MODEL_DRIFT,), sn.MODEL_DRIFT),
)
THRESHOLD_COLOR = "#dc2626"


class MonitoringDashboard:
    def __init__(self, config: ReportingConfig | None = None) -> None:
        self.config = config or ReportingConfig()

    def generate_dashboard(
        self, metrics: MetricsResponse | Mapping[str, Any], timeframe: str = "24h"
    ) -> dict[str, Any]:
        """Panels for the series present in ``metrics`` (all core panels when it has none)."""
        parse_duration(timeframe, field="timeframe")
        model_id = metrics.model_id if isinstance(metrics, MetricsResponse) else None
        present = set(metrics.series) if isinstance(metrics, MetricsResponse) else set(metrics)
        thresholds = self.config.thresholds_for(model_id) if model_id else self.config.thresholds
        panels: list[dict[str, Any]] = [_health_panel()]
        for pid, title, unit, series, thresholded in TIMESERIES_PANELS:
            if present and not present.intersection(series):
                continue
            panels.append(_timeseries_panel(pid, title, unit, series, thresholded, thresholds))
        if not present or any(sn.feature_of(s) for s in present):
            features = sorted(f for s in present if (f := sn.feature_of(s)) is not None)
            panels.append(_panel("feature_drift", "Per-feature drift", "heatmap", features=features))
        panels.append(_panel("alerts", "Alerts timeline", "alerts", source="/v1/alerts"))
        panels.append(_panel("maintenance", "Maintenance history", "history", source="/v1/models/{id}/history"))
        _layout(panels)
        return {
            "schema": SCHEMA,
            "title": f"mlmon: {model_id}" if model_id else "mlmon",
            "model_id": model_id,
            "timeframe": timeframe,
            "live": {"transport": "sse", "url": "/v1/stream"},
            "panels": panels,
        }


def _panel(pid: str, title: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "title": title, "type": kind, **extra}


def _health_panel() -> dict[str, Any]:
    return _panel(
        "health",
        "Health",
        "stat",
        metrics=["accuracy", "latency", "error_rate", "cpu_usage", "memory_usage", "data_drift"],
    )


def _timeseries_panel(
    pid: str, title: str, unit: str, series: tuple[str, ...], thresholded: str | None, thresholds: Thresholds
) -> dict[str, Any]:
    lines = []
    if thresholded is not None:
        name, direction = THRESHOLD_SERIES[thresholded]
        value = float(getattr(thresholds, name))
        lines.append({"value": value, "direction": direction, "color": THRESHOLD_COLOR, "label": f"{name} {value:g}"})
    return _panel(pid, title, "timeseries", unit=unit, series=list(series), thresholds=lines)


def _layout(panels: list[dict[str, Any]]) -> None:
    """Health full width; then two panels per row (12 columns each); heatmap/alerts/history full width."""
    y, col = 0, 0
    for p in panels:
        full = p["type"] != "timeseries"
        if full and col:
            y, col = y + 8, 0
        w, h = (GRID_COLUMNS, 4 if p["type"] == "stat" else 8) if full else (GRID_COLUMNS // 2, 8)
        p["grid"] = {"x": col, "y": y, "w": w, "h": h}
        if full:
            y += h
        else:
            col = (col + w) % GRID_COLUMNS
            y += h if col == 0 else 0
