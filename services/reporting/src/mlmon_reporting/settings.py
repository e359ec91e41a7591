"""Settings of the reporting service: ``MLMON_*`` (shared) and ``MLMON_REPORTING_*`` (its own).

Policies (thresholds, retention, schedules, e-mail) live in the ``reporting:`` section of the YAML config
(``MLMON_CONFIG``, see ``config.ReportingConfig``); these are process knobs only.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class ReportingOptions(BaseModel):
    """``MLMON_REPORTING_*``: options of this service only."""

    rollup_interval_s: float = Field(60.0, gt=0, description="how often dirty 1-h rollups are rebuilt")
    forecast_interval_s: float = Field(900.0, gt=0, description="how often trends are forecast (alerts)")
    report_check_interval_s: float = Field(300.0, gt=0, description="how often due scheduled reports are made")
    prune_interval_s: float = Field(3600.0, gt=0, description="how often old alert states are pruned")
    sse_keepalive_s: float = Field(15.0, gt=0, description="SSE comment interval on an idle stream")
    sse_queue_size: int = Field(1000, ge=10, description="events buffered per SSE client before it is dropped")
    sse_max_clients: int = Field(100, ge=1, description="concurrent SSE clients")


class ReportingSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8000))
    reporting: ReportingOptions = Field(default_factory=ReportingOptions)
