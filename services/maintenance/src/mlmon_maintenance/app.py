"""Wiring of the maintenance service: maintenance plans, approvals, jobs, auto actions."""

from __future__ import annotations

from fastapi import FastAPI

from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec
from mlmon_maintenance.settings import MaintenanceSettings

SERVICE = ServiceSpec(
    name="maintenance",
    module="mlmon_maintenance",
    default_port=8004,
    description="maintenance plans, approvals, jobs, auto actions",
)


def build(settings: MaintenanceSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or MaintenanceSettings()
    runtime = ServiceRuntime(SERVICE.name, settings)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)
    runtime.redis()
    return runtime, runtime.app()
