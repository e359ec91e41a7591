"""Settings of the drift service: ``MLMON_*`` (shared) and ``MLMON_DRIFT_*`` (its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class DriftOptions(BaseModel):
    """``MLMON_DRIFT_*``: options of this service only."""


class DriftSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8002))
    drift: DriftOptions = Field(default_factory=DriftOptions)
