"""Settings of the collector service: ``MLMON_*`` (shared) and ``MLMON_COLLECTOR_*`` (its own).

Model registry, windows and join bounds live in the ``collector:`` section of the YAML config
(:mod:`mlmon_collector.config`); these are process knobs only.
"""

from __future__ import annotations

import socket

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class CollectorOptions(BaseModel):
    """``MLMON_COLLECTOR_*``: options of this service only."""

    canonical_enabled: bool = Field(True, description="run the raw -> canonical consumer (and the join)")
    metrics_enabled: bool = Field(True, description="run the windowed-metrics consumer")
    batch_size: int = Field(5000, ge=1, le=100_000, description="records per consumer batch")
    registry_refresh_s: float = Field(5.0, gt=0, description="how often models registered over HTTP are re-read")
    sweep_interval_s: float = Field(5.0, gt=0, description="how often expired pending predictions are counted")
    max_out_of_order_s: float = Field(5.0, ge=0, description="watermark = newest event time minus this")
    idle_s: float = Field(
        60.0, ge=0, description="watermark also follows wall clock minus this (closes quiet windows); 0 = off"
    )
    tick_s: float = Field(1.0, gt=0, description="how often the idle watermark is applied")
    host: str = Field(default_factory=socket.gethostname, description="host name on resource events")
    pod: str | None = Field(None, description="pod name on resource events (Kubernetes downward API)")


class CollectorSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8001))
    collector: CollectorOptions = Field(default_factory=CollectorOptions)
