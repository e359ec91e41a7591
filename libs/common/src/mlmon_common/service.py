"""Wiring shared by every service process: logging, telemetry, Kafka clients, consumer threads, HTTP.

A service's ``app.py`` builds a :class:`ServiceRuntime`, registers its runners and routers, and calls
:meth:`ServiceRuntime.serve`. SIGTERM (via uvicorn) runs the lifespan shutdown: each runner is asked to stop,
finishes its batch, commits, leaves the group and flushes its producer within ``drain_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis
from fastapi import APIRouter, FastAPI

from mlmon_common import logging as mlmon_logging
from mlmon_common.http import Probes, create_app, serve
from mlmon_common.kafka import ConsumerRunner, EventProducer, Handler, RetryPolicy
from mlmon_common.settings import ServiceSettings
from mlmon_common.store import connect
from mlmon_common.telemetry import ServiceTelemetry
from mlmon_common.topics import Topic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    """How ``mlmon up`` finds and starts a service (entry point group ``mlmon.services``)."""

    name: str
    module: str
    default_port: int
    description: str = ""


class ServiceRuntime:
    def __init__(self, name: str, settings: ServiceSettings, drain_timeout_s: float = 9.0) -> None:
        self.name = name
        self.settings = settings
        self.drain_timeout_s = drain_timeout_s
        mlmon_logging.configure(name, settings.log_level)
        settings.log_effective(logger)
        self.telemetry = ServiceTelemetry(name)
        self.probes = Probes()
        self._runners: list[ConsumerRunner] = []
        self._threads: list[threading.Thread] = []
        self._redis: redis.Redis | None = None
        self.on_start: list[Callable[[], None]] = []
        self.on_stop: list[Callable[[], None]] = []

    # -- building blocks -------------------------------------------------------------------------------

    def producer(self, client_id: str | None = None, **config: Any) -> EventProducer:
        producer = EventProducer(self.settings.kafka, client_id=client_id or self.name, config=config or None)
        self.telemetry.producers.append(producer)
        return producer

    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = connect(self.settings.redis)
            client = self._redis
            self.probes.readiness["redis"] = lambda: (bool(client.ping()), "ping failed")
        return self._redis

    def consumer(self, topics: Sequence[Topic], handler: Handler, **kwargs: Any) -> ConsumerRunner:
        runner = ConsumerRunner(
            self.settings.kafka,
            service=self.name,
            topics=topics,
            handler=handler,
            producer=kwargs.pop("producer", None) or self.producer(f"{self.name}-out"),
            retry=kwargs.pop("retry", None) or RetryPolicy(deadline_s=self.settings.retry_deadline_s),
            observe=self.telemetry.observe,
            **kwargs,
        )
        index = len(self._runners)
        self._runners.append(runner)
        self.telemetry.runners.append(runner)
        self.probes.readiness[f"consumer{index}"] = runner.ready
        self.probes.liveness[f"consumer{index}"] = lambda: self._alive(index)
        return runner

    def _alive(self, index: int) -> tuple[bool, str]:
        runner = self._runners[index]
        if runner.health.crashed:
            return False, f"consumer loop crashed: {runner.health.crashed}"
        if index < len(self._threads) and not self._threads[index].is_alive() and not runner.stopping:
            return False, "consumer thread exited"
        return True, "ok"

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        for hook in self.on_start:
            hook()
        for runner in self._runners:
            thread = threading.Thread(target=runner.run, name=f"{self.name}-consumer", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for runner in self._runners:
            runner.stop()
        for thread in self._threads:
            thread.join(self.drain_timeout_s)
            if thread.is_alive():
                logger.error("consumer did not stop within the drain timeout", extra={"thread": thread.name})
        for hook in self.on_stop:
            hook()
        for producer in self.telemetry.producers:  # flush and release every client this runtime made
            producer.close()
        logger.info("service stopped")

    def app(self, routers: Sequence[APIRouter] = ()) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            self.start()
            try:
                yield
            finally:
                self.stop()

        return create_app(
            service=self.name,
            settings=self.settings,
            telemetry=self.telemetry,
            probes=self.probes,
            routers=routers,
            lifespan=lifespan,
        )

    def serve(self, routers: Sequence[APIRouter] = ()) -> None:
        serve(self.app(routers), self.settings.http)
