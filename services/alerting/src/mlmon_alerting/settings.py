"""Settings of the alerting service: ``MLMON_*`` (shared) and ``MLMON_ALERTING_*`` (its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class AlertingOptions(BaseModel):
    """``MLMON_ALERTING_*``: options of this service only."""


class AlertingSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8003))
    alerting: AlertingOptions = Field(default_factory=AlertingOptions)
