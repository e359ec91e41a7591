"""Fleet overview: each model's health at a glance (``GET /v1/models``).

A model's status judges the latest values of its key metrics over ``FLEET_TIMEFRAME`` against its
thresholds, and its firing alerts (``monitor.health``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from mlmon_reporting.api_shapes import AlertView, ModelsResponse, ModelSummary
from mlmon_reporting.monitor import KEY_METRICS, PerformanceMonitor, health

FLEET_TIMEFRAME = "1h"
KEY_SERIES = tuple(dict.fromkeys(s for names in KEY_METRICS.values() for s in names))
SHOWN = ("accuracy", "latency", "error_rate", "data_drift")


def fleet(monitor: PerformanceMonitor, models: dict[str, float], alerts: Sequence[AlertView]) -> ModelsResponse:
    firing: dict[str, list[int]] = defaultdict(list)
    for a in alerts:
        if a.status == "firing":
            firing[a.model_id].append(int(a.severity))
    out = []
    for model_id in sorted(set(models) | set(firing)):
        resp = monitor.monitor_metrics(model_id, FLEET_TIMEFRAME, series=KEY_SERIES)
        seen = models.get(model_id)
        status = health(resp, firing[model_id])
        if status == "unknown" and firing[model_id]:
            status = "critical" if 1 in firing[model_id] else "degraded"
        out.append(
            ModelSummary(
                model_id=model_id,
                status=status,
                last_seen=datetime.fromtimestamp(seen, UTC) if seen else None,
                firing_alerts=len(firing[model_id]),
                breaches=resp.breaches,
                key_metrics={k: (s.last if (s := resp.summary.get(k)) else None) for k in SHOWN},
            )
        )
    return ModelsResponse(models=out)
