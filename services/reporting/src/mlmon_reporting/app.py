"""Wiring of the reporting service: dashboard, reports, trends, query API."""

from __future__ import annotations

from fastapi import FastAPI

from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec
from mlmon_reporting.settings import ReportingSettings

SERVICE = ServiceSpec(
    name="reporting", module="mlmon_reporting", default_port=8000, description="dashboard, reports, trends, query API"
)


def build(settings: ReportingSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(SERVICE.name, settings)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)
    runtime.redis()
    return runtime, runtime.app()
