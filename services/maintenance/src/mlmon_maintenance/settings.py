"""Settings of the maintenance service: ``MLMON_*`` (shared) and ``MLMON_MAINTENANCE_*`` (its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class MaintenanceOptions(BaseModel):
    """``MLMON_MAINTENANCE_*``: options of this service only."""


class MaintenanceSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8004))
    maintenance: MaintenanceOptions = Field(default_factory=MaintenanceOptions)
