"""Wiring of the alerting service: rules, routing, notifications, live alert stream."""

from __future__ import annotations

from fastapi import FastAPI

from mlmon_alerting.settings import AlertingSettings
from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec

SERVICE = ServiceSpec(
    name="alerting",
    module="mlmon_alerting",
    default_port=8003,
    description="rules, routing, notifications, live alert stream",
)


def build(settings: AlertingSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or AlertingSettings()
    runtime = ServiceRuntime(SERVICE.name, settings)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)
    runtime.redis()
    return runtime, runtime.app()
