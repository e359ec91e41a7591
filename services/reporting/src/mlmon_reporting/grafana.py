"""A Grafana dashboard (JSON model, schemaVersion 39) over the Prometheus metrics every mlmon service exports.

Metrics: ``mlmon_consumed_total{service,topic}``, ``mlmon_produced_total{service,topic}``,
``mlmon_deadlettered_total{service,topic,reason}``, ``mlmon_handler_seconds`` (histogram; service, topic),
``mlmon_consumer_lag{service,topic,partition}``, ``mlmon_ready{service}``. Import it in Grafana
(Dashboards -> Import) or provision it from ``deploy/``; ``$datasource`` and ``$service`` are variables.

>>> dash = grafana_dashboard()
>>> dash["uid"], len(dash["panels"])
('mlmon-services', 8)
"""

from __future__ import annotations

from typing import Any

SEL = 'service=~"$service"'
RATE = "$__rate_interval"

#: (title, type, unit, [(legend, PromQL)], width)
PANELS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], int], ...] = (
    ("Ready", "stat", "none", (("{{service}}", f"max by (service) (mlmon_ready{{{SEL}}})"),), 24),
    (
        "Consumed / s",
        "timeseries",
        "ops",
        (("{{service}} {{topic}}", f"sum by (service, topic) (rate(mlmon_consumed_total{{{SEL}}}[{RATE}]))"),),
        12,
    ),
    (
        "Produced / s",
        "timeseries",
        "ops",
        (("{{service}} {{topic}}", f"sum by (service, topic) (rate(mlmon_produced_total{{{SEL}}}[{RATE}]))"),),
        12,
    ),
    (
        "Dead-lettered / s by reason",
        "timeseries",
        "ops",
        (
            (
                "{{service}} {{topic}} {{reason}}",
                f"sum by (service, topic, reason) (rate(mlmon_deadlettered_total{{{SEL}}}[{RATE}]))",
            ),
        ),
        12,
    ),
    (
        "Dead-letter ratio",
        "timeseries",
        "percentunit",
        (
            (
                "{{service}}",
                f"sum by (service) (rate(mlmon_deadlettered_total{{{SEL}}}[{RATE}])) / "
                f"clamp_min(sum by (service) (rate(mlmon_consumed_total{{{SEL}}}[{RATE}])), 1e-9)",
            ),
        ),
        12,
    ),
    (
        "Handler latency p50 / p95 / p99",
        "timeseries",
        "s",
        tuple(
            (
                f"p{q} {{{{service}}}}",
                f"histogram_quantile(0.{q}, sum by (le, service) "
                f"(rate(mlmon_handler_seconds_bucket{{{SEL}}}[{RATE}])))",
            )
            for q in ("50", "95", "99")
        ),
        12,
    ),
    (
        "Handler mean seconds by topic",
        "timeseries",
        "s",
        (
            (
                "{{service}} {{topic}}",
                f"sum by (service, topic) (rate(mlmon_handler_seconds_sum{{{SEL}}}[{RATE}])) / "
                f"clamp_min(sum by (service, topic) (rate(mlmon_handler_seconds_count{{{SEL}}}[{RATE}])), 1e-9)",
            ),
        ),
        12,
    ),
    (
        "Consumer lag",
        "timeseries",
        "short",
        (("{{service}} {{topic}}", f"sum by (service, topic) (mlmon_consumer_lag{{{SEL}}})"),),
        24,
    ),
)


def grafana_dashboard(title: str = "mlmon services", uid: str = "mlmon-services") -> dict[str, Any]:
    """The dashboard JSON model; stable ids so re-imports overwrite instead of duplicating."""
    return {
        "uid": uid,
        "title": title,
        "tags": ["mlmon"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [_datasource_var(), _service_var()]},
        "panels": _panels(),
    }


def _datasource_var() -> dict[str, Any]:
    return {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}


def _service_var() -> dict[str, Any]:
    return {
        "name": "service",
        "label": "Service",
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": "label_values(mlmon_ready, service)", "refId": "service"},
        "definition": "label_values(mlmon_ready, service)",
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
    }


def _panels() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    x = y = 0
    for pid, (title, kind, unit, queries, width) in enumerate(PANELS, start=1):
        height = 4 if kind == "stat" else 8
        if x + width > 24:
            x, y = 0, y + 8
        out.append(
            {
                "id": pid,
                "title": title,
                "type": kind,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"x": x, "y": y, "w": width, "h": height},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (legend, expr) in enumerate(queries)
                ],
            }
        )
        x += width
        if x >= 24:
            x, y = 0, y + height
    return out
