"""Wiring of the maintenance service: maintenance plans, approvals, jobs, auto actions.

One consumer (alerts, metrics, outcomes) feeds the :class:`Coordinator`; a timer thread runs the schedule;
the :class:`PlanWorker` executes approved plans; every plan state change is published on
``mlmon.maintenance.v1``. HTTP: ``api/``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from mlmon_common import topics
from mlmon_common.config import load_section
from mlmon_common.errors import RetryableError
from mlmon_common.events import AlertEvent, Event, MaintenanceEvent, MetricsEvent, OutcomeEvent, utcnow
from mlmon_common.http import api_key_dependency
from mlmon_common.kafka import EventProducer, Handler, Item, Record, Rejected, per_event
from mlmon_common.service import ServiceRuntime, ServiceSpec
from mlmon_maintenance.actions import ActionRunner
from mlmon_maintenance.api import autoscale as autoscale_api, callbacks as callbacks_api, plans as plans_api
from mlmon_maintenance.config import MaintenanceConfig
from mlmon_maintenance.coordinator import Coordinator
from mlmon_maintenance.executors.base import Executor
from mlmon_maintenance.executors.command import CommandExecutor
from mlmon_maintenance.executors.k8s_job import K8sJobExecutor, load_batch_api
from mlmon_maintenance.executors.webhook import WebhookExecutor
from mlmon_maintenance.scaling import Scaler, load_scale_api
from mlmon_maintenance.settings import MaintenanceSettings
from mlmon_maintenance.state import StateStore
from mlmon_maintenance.worker import PlanWorker

logger = logging.getLogger(__name__)

SERVICE = ServiceSpec(
    name="maintenance",
    module="mlmon_maintenance",
    default_port=8004,
    description="maintenance plans, approvals, jobs, auto actions",
)
INPUTS = (topics.ALERTS, topics.METRICS, topics.OUTCOMES)


@dataclass
class Maintenance:
    """The service's parts, for tests and the CLI."""

    config: MaintenanceConfig
    store: StateStore
    coordinator: Coordinator
    worker: PlanWorker
    scaler: Scaler


def executors(config: MaintenanceConfig) -> dict[str, Executor]:
    ex = config.executors
    kube = config.kubernetes
    out: dict[str, Executor] = {
        "command": CommandExecutor(ex.command),
        "k8s_job": K8sJobExecutor(ex.k8s_job, batch_api=load_batch_api(kube.in_cluster) if kube.enabled else None),
    }
    if ex.webhook.url is not None and ex.webhook.secret is not None:
        client = httpx.Client(timeout=ex.webhook.timeout.total_seconds())
        callback = str(ex.webhook.callback_url) if ex.webhook.callback_url else None
        out["webhook"] = WebhookExecutor(str(ex.webhook.url), ex.webhook.secret.get_secret_value(), client, callback)
    return out


def handler(coordinator: Coordinator, producer: EventProducer) -> Handler:
    """The consumer's batch handler: outcomes in bulk, alerts and metrics one by one.

    The plan events a batch causes go out on ``producer`` (shared with HTTP and the worker); the batch
    waits for their acknowledgement before its offsets are stored, so a crash replays it instead.
    """

    def one(event: Event, _record: Record) -> None:
        if isinstance(event, AlertEvent):
            coordinator.on_alert(event)
        elif isinstance(event, MetricsEvent):
            coordinator.on_metrics(event)

    each = per_event(one)

    def handle(items: Sequence[Item]) -> list[Rejected]:
        coordinator.on_outcomes([e for e, _ in items if isinstance(e, OutcomeEvent)])
        rejected = list(each(items) or [])
        if producer.flush(30.0):
            raise RetryableError("maintenance events not acknowledged by the broker")
        return rejected

    return handle


def _timer(coordinator: Coordinator, interval_s: float, stop: threading.Event) -> None:
    while not stop.wait(interval_s):
        try:
            created = coordinator.tick()
            if created:
                logger.info("schedule planned %d plan(s)", len(created))
        except Exception:  # the timer must outlive a Redis hiccup; the next tick tries again
            logger.exception("schedule tick failed")


def build(
    settings: MaintenanceSettings | None = None, config: MaintenanceConfig | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or MaintenanceSettings()
    config = config or load_section(settings.config, "maintenance", MaintenanceConfig)
    runtime = ServiceRuntime(SERVICE.name, settings)
    store = StateStore(runtime.redis(), settings.redis.key_prefix)
    producer = runtime.producer(f"{SERVICE.name}-events")

    def publish(event: MaintenanceEvent) -> None:
        producer.send(topics.MAINTENANCE.name, event)

    scaler = Scaler(config.autoscale, config.kubernetes, store, utcnow, load_scale_api(config.kubernetes))
    actions = ActionRunner(config, store, executors(config), scaler, utcnow)
    worker = PlanWorker(store, actions, publish, utcnow, settings.maintenance.worker_poll_s)
    coordinator = Coordinator(config, store, publish, utcnow, wake=worker.wake)
    runtime.consumer(list(INPUTS), handler(coordinator, producer))

    stop = threading.Event()
    timer = threading.Thread(
        target=_timer, args=(coordinator, settings.maintenance.tick_interval_s, stop), name="schedule", daemon=True
    )

    def start() -> None:
        logger.info("republished %d plan state(s)", coordinator.republish())
        worker.start()
        timer.start()

    def stop_all() -> None:
        stop.set()
        worker.stop()
        producer.close(5.0)

    runtime.on_start.append(start)
    runtime.on_stop.append(stop_all)
    runtime.probes.liveness["worker"] = worker.alive
    runtime.probes.liveness["schedule"] = lambda: (timer.is_alive() or stop.is_set(), "schedule timer exited")
    require_key = api_key_dependency(settings)
    secret = config.executors.webhook.secret
    routers = [
        plans_api.router(coordinator, store, require_key),
        autoscale_api.router(scaler, publish, require_key),
        callbacks_api.router(worker, secret.get_secret_value() if secret else None),
    ]
    app = runtime.app(routers)
    app.state.maintenance = Maintenance(config, store, coordinator, worker, scaler)
    return runtime, app
