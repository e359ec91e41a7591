"""Wiring of the reporting service: dashboard, reports, trends, query API.

One consumer (metrics, drift, resources, alerts, maintenance) feeds the Redis store and the SSE
broadcaster; a timer thread rebuilds rollups, publishes forecast alerts, makes the scheduled reports
(stored, e-mailed when ``reporting.email`` is configured) and prunes old alert states. HTTP: ``api/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from fastapi import FastAPI

from mlmon_common import topics
from mlmon_common.config import load_section
from mlmon_common.errors import RetryableError
from mlmon_common.events import utcnow
from mlmon_common.kafka import Handler, Item, Rejected
from mlmon_common.service import ServiceRuntime, ServiceSpec
from mlmon_reporting import mailer
from mlmon_reporting.api import routers
from mlmon_reporting.api.deps import Parts
from mlmon_reporting.api.pages import mount_static
from mlmon_reporting.broadcast import Broadcaster
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.forecaster import Forecaster
from mlmon_reporting.monitor import PerformanceMonitor
from mlmon_reporting.redis_store import RedisSeriesStore
from mlmon_reporting.report_jobs import ReportScheduler
from mlmon_reporting.reports import Report
from mlmon_reporting.settings import ReportingSettings
from mlmon_reporting.timers import Timers

logger = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="reporting", module="mlmon_reporting", default_port=8000, description="dashboard, reports, trends, query API"
)
INPUTS = (topics.METRICS, topics.DRIFT, topics.RESOURCES, topics.ALERTS, topics.MAINTENANCE)


def handler(store: RedisSeriesStore, broadcaster: Broadcaster) -> Handler:
    """Store the batch (one read pipeline + one transaction), then stream its new events.

    A batch that fails for a non-transient reason is retried event by event, so one bad event is
    dead-lettered alone instead of stopping the loop.
    """

    def handle(items: Sequence[Item]) -> list[Rejected]:
        try:
            result = store.write_events([ev for ev, _ in items])
        except RetryableError:
            raise
        except Exception:
            logger.exception("batch write failed; retrying event by event", extra={"events": len(items)})
            return _one_by_one(store, broadcaster, items)
        broadcaster.publish(result.fresh)
        return []

    return handle


def _one_by_one(store: RedisSeriesStore, broadcaster: Broadcaster, items: Sequence[Item]) -> list[Rejected]:
    rejected = []
    for ev, record in items:
        try:
            broadcaster.publish(store.write_events([ev]).fresh)
        except RetryableError:
            raise
        except Exception as exc:
            rejected.append(Rejected(record, f"reporting store: {exc}", type(exc).__name__))
    return rejected


def deliver(config: ReportingConfig, report_type: str, report: Report) -> None:
    if config.email is not None:
        mailer.send(config.email, report)
        logger.info("report e-mailed", extra={"report_type": report_type, "to": config.email.to})


def build(settings: ReportingSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or ReportingSettings()
    config = load_section(settings.config, "reporting", ReportingConfig)
    runtime = ServiceRuntime(SERVICE.name, settings)
    opts = settings.reporting
    store = RedisSeriesStore(runtime.redis(), settings.redis.key_prefix, config)
    broadcaster = Broadcaster(opts.sse_queue_size, opts.sse_max_clients)
    runtime.consumer(INPUTS, handler(store, broadcaster))
    scheduler = ReportScheduler(store, config, partial(deliver, config))
    forecaster = Forecaster(store, runtime.producer(f"{SERVICE.name}-forecasts"))

    timers = Timers()
    timers.every(opts.rollup_interval_s, "rollups", store.flush_rollups)
    timers.every(opts.forecast_interval_s, "forecasts", forecaster.run)
    timers.every(opts.report_check_interval_s, "reports", scheduler.run_due)
    timers.every(opts.prune_interval_s, "prune", lambda: store.log.prune(utcnow(), store.models()))
    runtime.on_start.append(timers.start)
    runtime.on_stop.extend([broadcaster.close, timers.stop])
    runtime.probes.liveness["timers"] = timers.alive

    app = runtime.app(routers())
    mount_static(app)
    app.state.reporting = Parts(
        config=config,
        options=opts,
        store=store,
        monitor=PerformanceMonitor(store, config),
        broadcaster=broadcaster,
        scheduler=scheduler,
    )
    app.state.timers = timers
    app.state.forecaster = forecaster
    return runtime, app
