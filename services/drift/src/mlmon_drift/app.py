"""Wiring of the drift service: streaming drift detection (faust + River)."""

from __future__ import annotations

from fastapi import FastAPI

from mlmon_common.probes import broker_check
from mlmon_common.service import ServiceRuntime, ServiceSpec
from mlmon_drift.settings import DriftSettings

SERVICE = ServiceSpec(
    name="drift", module="mlmon_drift", default_port=8002, description="streaming drift detection (faust + River)"
)


def build(settings: DriftSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or DriftSettings()
    runtime = ServiceRuntime(SERVICE.name, settings)
    runtime.probes.readiness["kafka"] = broker_check(settings.kafka)
    runtime.redis()
    return runtime, runtime.app()
