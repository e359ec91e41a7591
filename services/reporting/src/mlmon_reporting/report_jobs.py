"""Reports from the Redis store: on demand (HTTP, CLI) and scheduled (stored, optionally e-mailed).

Periods: on demand, the ``1d``/``7d`` ending at ``end`` (default now); scheduled, the previous UTC day
and the previous ISO week (Monday 00:00 UTC to Monday 00:00 UTC), made once by whichever replica takes
the lock. Stored reports live under::

    mlmon:reports:v1:<type>:<period start, epoch s>   HASH  json, md, html, generated_at (EXPIRE keep_d)
    mlmon:reports:v1:index                            ZSET  "<type>:<start>" -> period start
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mlmon_common.events import AlertEvent, DriftEvent, MaintenanceEvent, utcnow
from mlmon_common.store import retryable
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.monitor import PerformanceMonitor
from mlmon_reporting.redis_store import RedisSeriesStore
from mlmon_reporting.reports import REPORT_TYPES, MonitoringReports, Report, ReportData
from mlmon_reporting.timeseries import as_text

logger = logging.getLogger(__name__)
PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
#: Alerts fired this long before a period still count as incidents open during it.
INCIDENT_LOOKBACK = timedelta(days=7)
REPORTS = "mlmon:reports:v1"
FORMATS = ("json", "md", "html")


class UnknownModelError(LookupError):
    pass


def check_type(report_type: str) -> str:
    if report_type not in REPORT_TYPES:
        raise ValueError(f"report_type: expected one of {', '.join(REPORT_TYPES)}, got {report_type!r}")
    return report_type


def scheduled_period(report_type: str, now: datetime) -> tuple[datetime, datetime]:
    """The last complete UTC day / ISO week before ``now``.

    >>> scheduled_period("weekly", datetime(2026, 1, 8, 5, tzinfo=UTC))[0].isoformat()
    '2025-12-29T00:00:00+00:00'
    """
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if check_type(report_type) == "daily":
        return midnight - timedelta(days=1), midnight
    monday = midnight - timedelta(days=midnight.weekday())
    return monday - timedelta(days=7), monday


def build_data(
    store: RedisSeriesStore, start: datetime, end: datetime, models: Sequence[str] | None = None
) -> ReportData:
    """Metrics of each model over the period plus its logged alerts, drift and maintenance events."""
    known = store.models()
    if models:
        missing = [m for m in models if m not in known]
        if missing:
            raise UnknownModelError(f"model: no data for {', '.join(missing)}")
    ids = sorted(models or known)
    hours = max(1, round((end - start).total_seconds() / 3600))
    monitor = PerformanceMonitor(store, store.config, clock=lambda: end)
    metrics = {m: monitor.monitor_metrics(m, f"{hours}h") for m in ids}
    alerts: list[AlertEvent] = []
    drift: list[DriftEvent] = []
    maint: list[MaintenanceEvent] = []
    for m in ids:
        alerts += [e for e in store.log.events(m, "alert", start - INCIDENT_LOOKBACK, end) if isinstance(e, AlertEvent)]
        drift += [e for e in store.log.events(m, "drift", start, end) if isinstance(e, DriftEvent)]
        maint += [e for e in store.log.events(m, "maintenance", start, end) if isinstance(e, MaintenanceEvent)]
    metrics = {m: r for m, r in metrics.items() if r.series}
    return ReportData(
        period_start=start, period_end=end, metrics=metrics, alerts=alerts, drift=drift, maintenance=maint
    )


def on_demand(
    store: RedisSeriesStore,
    report_type: str,
    *,
    models: Sequence[str] | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> Report:
    end = end or now or utcnow()
    start = end - PERIODS[check_type(report_type)]
    data = build_data(store, start, end, models)
    return MonitoringReports(store.config).generate_report(data, report_type, generated_at=now or utcnow())


def render(report: Report, fmt: str) -> tuple[str, str]:
    """(body, media type) of one format."""
    if fmt == "json":
        return report.json, "application/json"
    if fmt == "md":
        return report.markdown, "text/markdown; charset=utf-8"
    if fmt == "html":
        return report.html, "text/html; charset=utf-8"
    raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


class ReportScheduler:
    """Makes each due scheduled report once (lock in Redis), stores it, and hands it to ``deliver``."""

    def __init__(
        self,
        store: RedisSeriesStore,
        config: ReportingConfig,
        deliver: Callable[[str, Report], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.config = config
        self.deliver = deliver
        self.clock = clock
        self.p = store.p

    def key(self, report_type: str, start: datetime) -> str:
        return f"{self.p}{REPORTS}:{report_type}:{int(start.timestamp())}"

    @retryable
    def run_due(self) -> list[str]:
        """Make the reports due now; returns their keys."""
        made = []
        now = self.clock()
        for report_type in REPORT_TYPES:
            if not getattr(self.config.schedule, report_type):
                continue
            start, end = scheduled_period(report_type, now)
            key = self.key(report_type, start)
            if self.store.r.exists(key) or not self.store.r.set(key + ":lock", b"1", nx=True, ex=600):
                continue
            if not self.store.models():
                continue  # nothing to report yet; try again next tick
            data = build_data(self.store, start, end)
            report = MonitoringReports(self.config).generate_report(data, report_type, generated_at=now)
            self.save(key, report_type, start, report, now)
            made.append(key)
            logger.info("scheduled report made", extra={"report_type": report_type, "period_start": start.isoformat()})
            if self.deliver is not None:
                try:
                    self.deliver(report_type, report)
                except Exception:  # delivery failures must not lose the stored report
                    logger.exception("report delivery failed", extra={"report_type": report_type})
        return made

    def save(self, key: str, report_type: str, start: datetime, report: Report, now: datetime) -> None:
        ttl = self.config.schedule.keep_d * 86400
        pipe = self.store.r.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={"json": report.json, "md": report.markdown, "html": report.html, "generated_at": now.isoformat()},
        )
        pipe.expire(key, ttl)
        pipe.zadd(f"{self.p}{REPORTS}:index", {f"{report_type}:{int(start.timestamp())}": start.timestamp()})
        pipe.zremrangebyscore(f"{self.p}{REPORTS}:index", "-inf", now.timestamp() - ttl)
        pipe.execute()

    @retryable
    def stored(self, limit: int = 100) -> list[dict[str, Any]]:
        """Stored scheduled reports, newest first."""
        out = []
        for member in self.store.r.zrevrange(f"{self.p}{REPORTS}:index", 0, limit - 1):
            report_type, _, start = as_text(member).partition(":")
            out.append(
                {
                    "report_type": report_type,
                    "period_start": datetime.fromtimestamp(int(start), UTC).isoformat(),
                    "url": f"/v1/reports/stored/{report_type}/{start}",
                }
            )
        return out

    @retryable
    def load(self, report_type: str, start: int, fmt: str) -> str | None:
        if fmt not in FORMATS:
            raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
        raw = self.store.r.hget(f"{self.p}{REPORTS}:{check_type(report_type)}:{start}", fmt)
        return as_text(raw) if raw is not None else None


def summary_line(report: Report) -> str:
    """One line for e-mail subjects and logs."""
    d = report.data
    fleet = d["fleet"]
    return (
        f"mlmon {d['report_type']} report {d['period']['start'][:10]}: {fleet['models']} models, "
        f"{d['incidents']['total']} incidents, {d['drift']['started']} drift onsets"
    )
