"""Settings of the collector service: ``MLMON_*`` (shared) and ``MLMON_COLLECTOR_*`` (its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class CollectorOptions(BaseModel):
    """``MLMON_COLLECTOR_*``: options of this service only."""


class CollectorSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8001))
    collector: CollectorOptions = Field(default_factory=CollectorOptions)
