"""Wiring of the collector service: ingestion edge: validation, late-label join, resource sampling,
windowed metrics.

Two consumers: raw predictions + labels -> canonical predictions and outcomes (:mod:`canonical`, join in
:mod:`joiner_store`), and canonical predictions + outcomes -> metrics events (:mod:`metrics_stage`, group
``<prefix>-collector-metrics``). A timer thread counts expired pending predictions and closes quiet
windows. HTTP: ingest and the model registry (``api/``).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable

from fastapi import FastAPI

from mlmon_collector.api import ingest as ingest_api, models as models_api
from mlmon_collector.canonical import CanonicalStage, decode_raw
from mlmon_collector.config import CollectorConfig
from mlmon_collector.joiner_store import JoinStore
from mlmon_collector.metrics_stage import MetricsStage
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.settings import CollectorSettings
from mlmon_collector.stats import CollectorStats
from mlmon_common import topics
from mlmon_common.config import load_section
from mlmon_common.http import api_key_dependency
from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec

logger = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="collector",
    module="mlmon_collector",
    default_port=8001,
    description="ingestion edge: validation, late-label join, resource sampling, windowed metrics",
)
METRICS_GROUP = "collector-metrics"


#: Young-generation GC threshold of a collector process (CPython's default: 700 allocations). A consumer
#: batch keeps thousands of decoded events alive, so the default collects (and promotes) them over and over;
#: measured: 15.8 instead of 19.5-21.6 us of CPU per raw event (bench/collector/RESULTS.md).
GC_THRESHOLD = (50_000, 20, 100)


def tune_gc() -> None:
    """Once the service is built: freeze what start-up allocated (never scanned again) and collect the young
    generation less often. Memory of cyclic garbage is bounded by the threshold (a few MB)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def _timer(jobs: list[Callable[[], object]], interval_s: float, stop: threading.Event) -> None:
    while not stop.wait(interval_s):
        for job in jobs:
            try:
                job()
            except Exception:  # the timer must outlive a Redis or broker hiccup; the next tick tries again
                logger.exception("collector timer job failed")


def build(
    settings: CollectorSettings | None = None, config: CollectorConfig | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or CollectorSettings()
    config = config or load_section(settings.config, "collector", CollectorConfig)
    opts = settings.collector
    runtime = ServiceRuntime(SERVICE.name, settings)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)
    client = runtime.redis()
    prefix = settings.redis.key_prefix
    catalog = ModelCatalog(client, prefix, config.models, refresh_s=opts.registry_refresh_s)
    join = JoinStore(client, prefix, ttl_s=config.join_ttl_s, max_pending=config.join_max_pending)
    jobs: list[Callable[[], object]] = []
    canonical = metrics = None
    if opts.canonical_enabled:
        out = runtime.producer(f"{SERVICE.name}-canonical")
        canonical = CanonicalStage(catalog, join, out, settings.kafka, sweep_interval_s=opts.sweep_interval_s)
        runtime.consumer(
            [topics.RAW_PREDICTIONS, topics.RAW_LABELS],
            canonical.handle,
            producer=out,
            batch_size=opts.batch_size,
            decode=decode_raw,
        )
        jobs.append(canonical.sweep_if_due)
    if opts.metrics_enabled:
        out = runtime.producer(f"{SERVICE.name}-metrics")
        metrics = MetricsStage(
            client,
            prefix,
            config,
            catalog,
            out,
            max_out_of_order_s=opts.max_out_of_order_s,
            idle_s=opts.idle_s or None,
        )
        runtime.consumer(
            [topics.PREDICTIONS, topics.OUTCOMES],
            metrics.handle,
            producer=out,
            group_id=f"{settings.kafka.group_prefix}-{METRICS_GROUP}",
            on_assign=metrics.on_assign,
            batch_size=opts.batch_size,
        )
        jobs.append(metrics.tick)
    runtime.telemetry.registry.register(CollectorStats(join, canonical, metrics))

    ingest_producer = runtime.producer(f"{SERVICE.name}-ingest")
    stop = threading.Event()
    timer = threading.Thread(target=_timer, args=(jobs, opts.tick_s, stop), name="collector-timer", daemon=True)

    def stop_all() -> None:
        stop.set()
        ingest_producer.close(5.0)

    runtime.on_start.append(timer.start)
    runtime.on_stop.append(stop_all)
    runtime.probes.liveness["timer"] = lambda: (timer.is_alive() or stop.is_set() or not timer.ident, "timer exited")
    require_key = api_key_dependency(settings)
    routers = [ingest_api.router(ingest_producer, require_key), models_api.router(catalog, require_key)]
    app = runtime.app(routers)
    app.state.catalog, app.state.join, app.state.metrics = catalog, join, metrics
    return runtime, app
