"""Settings of the reporting service: ``MLMON_*`` (shared) and ``MLMON_REPORTING_*`` (its own)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class ReportingOptions(BaseModel):
    """``MLMON_REPORTING_*``: options of this service only."""


class ReportingSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8000))
    reporting: ReportingOptions = Field(default_factory=ReportingOptions)
