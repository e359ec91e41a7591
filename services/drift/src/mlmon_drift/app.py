"""Wiring of the drift service: streaming drift detection (faust + River) and its HTTP API, one process.

``build(settings) -> (runtime, app)`` wires everything without starting it; :func:`run` pre-creates the topics,
serves the FastAPI app with uvicorn in a thread and runs the faust worker in the main thread. SIGTERM stops the
worker (offsets committed, monitors checkpointed, producer flushed), then the HTTP server.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from dataclasses import dataclass

import faust
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.http import api_key_dependency
from mlmon_common.kafka import EventProducer, ensure_topics, wait_for_broker
from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec
from mlmon_drift.api import build_router
from mlmon_drift.metrics import DriftMetrics
from mlmon_drift.settings import DriftSettings
from mlmon_drift.store import DriftStore
from mlmon_drift.stream import StreamHealth, create_stream_app
from mlmon_drift.worker import DriftWorker

logger = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="drift", module="mlmon_drift", default_port=8002, description="streaming drift detection (faust + River)"
)
#: Topics the worker reads or writes; created before the worker starts (faust does not create them).
TOPICS = (topics.PREDICTIONS, topics.OUTCOMES, topics.DRIFT, topics.DEADLETTER)


@dataclass
class DriftService:
    settings: DriftSettings
    runtime: ServiceRuntime
    http: FastAPI
    worker: DriftWorker
    stream: faust.App
    health: StreamHealth
    producer: EventProducer


def build_service(settings: DriftSettings | None = None) -> DriftService:
    settings = settings or DriftSettings()
    section = settings.detection()
    runtime = ServiceRuntime(SERVICE.name, settings)
    store = DriftStore(runtime.redis(), settings.redis.key_prefix)
    producer = runtime.producer("mlmon-drift")
    worker = DriftWorker(
        section=section,
        store=store,
        producer=producer,
        kafka=settings.kafka,
        metrics=DriftMetrics(runtime.telemetry.registry),
        service=SERVICE.name,
    )
    health = StreamHealth()
    stall = settings.drift.stall_after_s
    runtime.probes.readiness["stream"] = lambda: health.ready(stall)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)  # faust's agents stay "live" without a broker
    runtime.probes.liveness["stream"] = lambda: health.alive(stall)
    stream = create_stream_app(settings.kafka, settings.drift, worker, health, settings.retry_deadline_s)
    http = runtime.app([build_router(store, section, api_key_dependency(settings))])

    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"state store unavailable: {exc}"}, status_code=503)

    http.add_exception_handler(RetryableError, redis_unavailable)
    return DriftService(settings, runtime, http, worker, stream, health, producer)


def build(settings: DriftSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    service = build_service(settings)
    return service.runtime, service.http


def run(settings: DriftSettings | None = None) -> None:
    """Run the service until SIGTERM/SIGINT: faust worker in the main thread, uvicorn in a thread."""
    settings = settings or DriftSettings()
    if settings.drift.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # before faust creates its loop
    service = build_service(settings)
    kafka = service.settings.kafka
    wait_for_broker(kafka, timeout_s=60)
    ensure_topics(kafka, TOPICS)
    http = service.settings.http
    server = uvicorn.Server(
        uvicorn.Config(service.http, host=http.host, port=http.port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="drift-http", daemon=True)
    thread.start()
    worker = faust.Worker(
        service.stream,
        loglevel=service.settings.log_level,
        override_logging=False,
        redirect_stdouts=False,
        quiet=True,
    )
    try:
        worker.execute_from_commandline()
    finally:
        server.should_exit = True
        thread.join(5.0)
        service.producer.close(5.0)
        shutil.rmtree(service.stream.conf.datadir, ignore_errors=True)
        logger.info("drift service stopped")
