"""Markdown and self-contained HTML renderings of a report document (see ``reports``).

Every figure in the HTML carries ``data-field="<json path>"`` so tests (and people) can check that
the page shows the numbers of the JSON.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any

from mlmon_reporting.api_shapes import MetricsResponse
from mlmon_reporting.charts import bar_chart_svg, line_chart_svg
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.thresholds import rules_for
from mlmon_reporting.timeframe import format_duration

STATUSES = ("healthy", "degraded", "critical", "unknown")
MODEL_COLUMNS = (("accuracy", "mean"), ("latency", "mean"), ("error_rate", "mean"), ("data_drift", "max"))
CHART_SERIES = ("accuracy", "latency_p95_s", "error_rate", "data_drift", "resource.cpu_percent")
CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#111}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
    ".chart{margin:4px}.chart .title{font-weight:600;font-size:12px}.chart .axis{font-size:10px;fill:#555}"
    ".healthy{color:#15803d}.degraded{color:#b45309}.critical{color:#b91c1c}.unknown{color:#6b7280}"
)


def fmt(x: object) -> str:
    """Figures as printed in both renderings."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _duration(seconds: float | None) -> str:
    return format_duration(timedelta(seconds=seconds)) if seconds is not None else "open"


def _title(doc: dict[str, Any]) -> str:
    p = doc["period"]
    return f"mlmon {doc['report_type']} report: {p['start']} to {p['end']}"


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# {_title(doc)}", ""]
    for section in (_md_fleet, _md_incidents, _md_drift, _md_maintenance, _md_trends):
        lines += section(doc)
    return "\n".join(lines) + "\n"


def _md_fleet(doc: dict[str, Any]) -> list[str]:
    fleet = doc["fleet"]
    lines = ["## Fleet health", ""]
    lines.append(f"Models: {fleet['models']} ({', '.join(f'{s} {fleet.get(s, 0)}' for s in STATUSES)})")
    lines += ["", "| Model | Status | " + " | ".join(f"{k} ({a})" for k, a in MODEL_COLUMNS) + " | Incidents |"]
    lines.append("|" + "---|" * (len(MODEL_COLUMNS) + 3))
    for m in doc["models"]:
        cells = [fmt(m["metrics"].get(k, {}).get(a)) for k, a in MODEL_COLUMNS]
        lines.append(f"| {m['model_id']} | {m['status']} | " + " | ".join(cells) + f" | {m['alerts_fired']} |")
    return [*lines, ""]


def _md_incidents(doc: dict[str, Any]) -> list[str]:
    inc = doc["incidents"]
    sev = inc["by_severity"]
    lines = ["## Incidents", ""]
    lines.append(
        f"Total {inc['total']} (critical {sev['critical']}, warning {sev['warning']}, info {sev['info']}); "
        f"open {inc['open']}; resolved {inc['resolved']}; MTTR {_duration(inc['mttr_s'])}"
    )
    if inc["items"]:
        lines += [
            "",
            "| Started | Model | Alert | Severity | Duration | Acknowledged by |",
            "|---|---|---|---|---|---|",
        ]
        for i in inc["items"]:
            lines.append(
                f"| {i['started_at']} | {i['model_id']} | {i['alertname']} | {i['severity']} | "
                f"{_duration(i['duration_s'])} | {i['acknowledged_by'] or '-'} |"
            )
    return [*lines, ""]


def _md_drift(doc: dict[str, Any]) -> list[str]:
    drift = doc["drift"]
    lines = ["## Drift", "", f"Drift episodes started: {drift['started']}"]
    for model, d in drift["by_model"].items():
        feats = ", ".join(d["features"]) or "-"
        lines.append(f"- {model}: {d['started']} started; features: {feats}; max data drift {fmt(d['max_data_drift'])}")
    return [*lines, ""]


def _md_maintenance(doc: dict[str, Any]) -> list[str]:
    maint = doc["maintenance"]
    lines = ["## Maintenance", ""]
    lines.append(
        f"Plans {maint['plans']}: succeeded {maint['succeeded']}, failed {maint['failed']}, "
        f"cancelled {maint['cancelled']}, in progress {maint['in_progress']}"
    )
    for e in maint["items"]:
        lines.append(f"- {e['at']} {e['model_id']} {e['plan_id']}: {e['state']} ({', '.join(e['actions'])})")
    return [*lines, ""]


def _md_trends(doc: dict[str, Any]) -> list[str]:
    lines = ["## Trends and forecasts", ""]
    for m in doc["models"]:
        for t in m["trends"]:
            lines.append(
                f"- {m['model_id']} {t['metric']}: {fmt(t['slope_per_day'])}/day, "
                f"change {fmt(t['relative_change'])}, {len(t['change_points'])} change point(s)"
            )
    lines += [f"- **{f['severity']}**: {f['model_id']}: {f['message']}" for f in doc["forecasts"]] or ["- no forecast"]
    return lines


def _f(path: str, value: object) -> str:
    return f'<span data-field="{escape(path)}">{escape(fmt(value))}</span>'


def render_html(doc: dict[str, Any], metrics: dict[str, MetricsResponse], config: ReportingConfig) -> str:
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(_title(doc))}</title>"
        f"<style>{CSS}</style></head><body><h1>{escape(_title(doc))}</h1>",
        _fleet_html(doc),
        _incidents_html(doc["incidents"]),
        _drift_html(doc["drift"]),
        _maintenance_html(doc["maintenance"]),
        _trends_html(doc),
    ]
    for model_id, resp in metrics.items():
        rules = rules_for(config.thresholds_for(model_id))
        parts.append(f"<h3>{escape(model_id)}</h3><div>")
        for name in CHART_SERIES:
            if name in resp.series:
                d, rule = resp.series[name], rules.get(name)
                parts.append(line_chart_svg(name, d.t, d.mean, threshold=rule.value if rule else None))
        parts.append("</div>")
    return "".join(parts) + "</body></html>\n"


def _fleet_html(doc: dict[str, Any]) -> str:
    fleet = doc["fleet"]
    out = ["<h2>Fleet health</h2><p>Models: ", _f("fleet.models", fleet["models"]), " ("]
    out.append(", ".join(f"{s} {_f(f'fleet.{s}', fleet.get(s, 0))}" for s in STATUSES) + ")</p>")
    out.append("<table><tr><th>Model</th><th>Status</th>")
    out += [f"<th>{k} ({a})</th>" for k, a in MODEL_COLUMNS] + ["<th>Incidents</th></tr>"]
    for m in doc["models"]:
        mid = m["model_id"]
        out.append(
            f'<tr><td>{escape(mid)}</td><td class="{m["status"]}">{_f(f"models.{mid}.status", m["status"])}</td>'
        )
        for k, a in MODEL_COLUMNS:
            out.append(f"<td>{_f(f'models.{mid}.metrics.{k}.{a}', m['metrics'].get(k, {}).get(a))}</td>")
        out.append(f"<td>{_f(f'models.{mid}.alerts_fired', m['alerts_fired'])}</td></tr>")
    return "".join(out) + "</table>"


def _incidents_html(inc: dict[str, Any]) -> str:
    sev = inc["by_severity"]
    out = [
        "<h2>Incidents</h2><p>Total ",
        _f("incidents.total", inc["total"]),
        "; open ",
        _f("incidents.open", inc["open"]),
    ]
    out += [
        "; resolved ",
        _f("incidents.resolved", inc["resolved"]),
        "; MTTR ",
        escape(_duration(inc["mttr_s"])),
        "</p>",
    ]
    out.append(bar_chart_svg("Incidents by severity", list(sev), [float(v) for v in sev.values()]))
    out.append("<p>" + ", ".join(f"{s} {_f(f'incidents.by_severity.{s}', n)}" for s, n in sev.items()) + "</p>")
    out.append("<table><tr><th>Started</th><th>Model</th><th>Alert</th><th>Severity</th><th>Duration</th></tr>")
    for i in inc["items"]:
        cells = (i["started_at"], i["model_id"], i["alertname"], i["severity"], _duration(i["duration_s"]))
        out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</table>"


def _drift_html(drift: dict[str, Any]) -> str:
    out = ["<h2>Drift</h2><p>Drift episodes started: ", _f("drift.started", drift["started"]), "</p><ul>"]
    for model, d in drift["by_model"].items():
        out.append(
            f"<li>{escape(model)}: {_f(f'drift.by_model.{model}.started', d['started'])} started; features: "
            f"{escape(', '.join(d['features']) or '-')}; max data drift "
            f"{_f(f'drift.by_model.{model}.max_data_drift', d['max_data_drift'])}</li>"
        )
    return "".join(out) + "</ul>"


def _maintenance_html(maint: dict[str, Any]) -> str:
    out = ["<h2>Maintenance</h2><p>"]
    out.append(
        ", ".join(
            f"{k} {_f(f'maintenance.{k}', maint[k])}"
            for k in ("plans", "succeeded", "failed", "cancelled", "in_progress")
        )
    )
    out.append("</p><ul>")
    for e in maint["items"]:
        out.append(f"<li>{escape(e['at'])} {escape(e['model_id'])} {escape(e['plan_id'])}: {escape(e['state'])}</li>")
    return "".join(out) + "</ul>"


def _trends_html(doc: dict[str, Any]) -> str:
    out = [
        "<h2>Trends and forecasts</h2><table><tr><th>Model</th><th>Metric</th><th>Slope / day</th><th>Change</th></tr>"
    ]
    for m in doc["models"]:
        for t in m["trends"]:
            out.append(
                f"<tr><td>{escape(m['model_id'])}</td><td>{escape(t['metric'])}</td>"
                f"<td>{escape(fmt(t['slope_per_day']))}</td><td>{escape(fmt(t['relative_change']))}</td></tr>"
            )
    out.append("</table><ul>")
    out += [
        f"<li><b>{escape(f['severity'])}</b>: {escape(f['model_id'])}: {escape(f['message'])}</li>"
        for f in doc["forecasts"]
    ]
    return "".join(out) + "</ul>"
