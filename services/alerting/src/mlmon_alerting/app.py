"""Wiring of the alerting service: rules, routing, notifications, live alert stream.

One consumer (metrics, drift, resources) feeds :class:`AlertingEngine`; a dispatcher thread flushes
groups/digests and expires stale alerts; delivery worker threads drain the Redis outbox; every alert
lifecycle change goes to ``mlmon.alerts.v1`` and the SSE stream. HTTP: :mod:`mlmon_alerting.api`.

Own metrics, besides the shared ones of :mod:`mlmon_common.telemetry`:
``mlmon_alerting_outcomes_unrecorded``      delivery outcomes the receiver gave but Redis has not stored yet
                                            (the workers claim nothing meanwhile; readiness check ``delivery``)
``mlmon_alerting_outcomes_deferred_total``  outcomes that had to wait for Redis, ever (this process)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlmon_alerting.api import routers
from mlmon_alerting.config import AlertingConfig, load_config, parse_config
from mlmon_alerting.engine import AlertingEngine
from mlmon_alerting.notify.send import SmtpFactory
from mlmon_alerting.notify.worker import DeliveryWorker
from mlmon_alerting.settings import AlertingSettings
from mlmon_alerting.store import AlertStore
from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.service import ServiceRuntime, ServiceSpec

logger = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="alerting",
    module="mlmon_alerting",
    default_port=8003,
    description="rules, routing, notifications, live alert stream",
)
INPUTS = (topics.METRICS, topics.DRIFT, topics.RESOURCES)
#: Used when ``MLMON_CONFIG`` is not set: default rules, one receiver without integrations (log only).
FALLBACK_CONFIG = "route: {receiver: default}\nreceivers: [{name: default}]\n"


@dataclass
class Alerting:
    """The service's parts, for tests and benchmarks."""

    engine: AlertingEngine
    worker: DeliveryWorker
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)


def read_config(settings: AlertingSettings) -> AlertingConfig:
    """The validated config; :class:`ConfigError` names file, path and problem."""
    if settings.config is None:
        logger.warning("MLMON_CONFIG is not set: default rules, notifications are only logged")
        return parse_config(FALLBACK_CONFIG, source="<built-in default>")
    return load_config(settings.config)


def build(
    settings: AlertingSettings | None = None,
    config: AlertingConfig | None = None,
    smtp_factory: SmtpFactory | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or AlertingSettings()
    config = config or read_config(settings)
    opts = settings.alerting
    runtime = ServiceRuntime(SERVICE.name, settings)
    store = AlertStore(runtime.redis(), settings.redis.key_prefix, opts.seen_ttl_s)
    worker = DeliveryWorker(
        store.outbox,
        config,
        backoff=opts.backoff(),
        lease_s=opts.delivery_lease_s,
        poll_s=opts.delivery_poll_s,
        retention_s=opts.delivered_retention_s,
        smtp_factory=smtp_factory,
    )
    engine = AlertingEngine(
        config,
        store,
        runtime.producer(f"{SERVICE.name}-alerts"),
        external_url=opts.external_url,
        tick_max_s=opts.tick_max_s,
        resolved_retention_s=opts.resolved_retention_s,
        on_outbox=worker.wake.set,
    )
    parts = Alerting(engine, worker)
    runtime.consumer(INPUTS, engine.handle_batch, poll_timeout_s=opts.consumer_poll_s)
    runtime.telemetry.registry.register(DeliveryStats(worker))
    runtime.probes.readiness["delivery"] = lambda: _outcomes_recorded(worker)
    _lifecycle(runtime, parts, opts.delivery_workers)
    app = runtime.app(routers(engine, settings, opts.sse_heartbeat_s))
    app.add_exception_handler(RetryableError, _unavailable)  # type: ignore[arg-type]
    app.state.alerting = parts
    return runtime, app


class DeliveryStats(Collector):
    """The delivery workers' outcome bookkeeping, read at scrape time."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "mlmon_alerting_outcomes_unrecorded", "Delivery outcomes waiting to be stored in Redis"
        )
        waiting.add_metric([], len(self.worker.marks))
        deferred = CounterMetricFamily(
            "mlmon_alerting_outcomes_deferred", "Delivery outcomes that had to wait for Redis to be stored"
        )
        deferred.add_metric([], self.worker.marks.deferred)
        yield waiting
        yield deferred


def _outcomes_recorded(worker: DeliveryWorker) -> tuple[bool, str]:
    waiting = len(worker.marks)
    return waiting == 0, f"{waiting} delivery outcomes waiting to be stored in Redis"


async def _unavailable(request: Request, exc: RetryableError) -> JSONResponse:
    return JSONResponse({"detail": f"temporarily unavailable: {exc}"}, status_code=503)


def _lifecycle(runtime: ServiceRuntime, parts: Alerting, workers: int) -> None:
    def start() -> None:
        parts.engine.load()
        targets = [("dispatcher", lambda: parts.engine.run_timer(parts.stop))]
        targets += [(f"delivery{i}", parts.worker.run) for i in range(workers)]
        for name, target in targets:
            thread = threading.Thread(target=target, name=f"alerting-{name}", daemon=True)
            thread.start()
            parts.threads.append(thread)

    def stop() -> None:
        parts.stop.set()
        parts.engine.wakeup.set()
        parts.worker.stop()
        for thread in parts.threads:
            thread.join(10.0)
        parts.engine.producer.close()

    def alive() -> tuple[bool, str]:
        dead = [t.name for t in parts.threads if not t.is_alive()]
        if dead and not parts.stop.is_set():
            return False, f"threads exited: {dead}"
        if parts.threads and time.monotonic() - parts.worker.last_loop > 120:
            return False, "delivery workers stalled"
        return True, "ok"

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)
    runtime.probes.liveness["alerting"] = alive
