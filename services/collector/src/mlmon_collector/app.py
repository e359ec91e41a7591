"""Wiring of the collector service: ingestion edge: validation, late-label join, resource sampling, windowed metrics."""

from __future__ import annotations

from fastapi import FastAPI

from mlmon_collector.settings import CollectorSettings
from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec

SERVICE = ServiceSpec(
    name="collector",
    module="mlmon_collector",
    default_port=8001,
    description="ingestion edge: validation, late-label join, resource sampling, windowed metrics",
)


def build(settings: CollectorSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or CollectorSettings()
    runtime = ServiceRuntime(SERVICE.name, settings)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)
    runtime.redis()
    return runtime, runtime.app()
