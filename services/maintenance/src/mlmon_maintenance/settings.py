"""Settings of the maintenance service: ``MLMON_*`` (shared) and ``MLMON_MAINTENANCE_*`` (its own).

Policies (schedules, triggers, approvals, executors, backup, cleanup) live in the ``maintenance:`` section
of the YAML config (``MLMON_CONFIG``, see ``config.example.yml``); these are process knobs only.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_common.settings import HttpSettings, ServiceSettings


class MaintenanceOptions(BaseModel):
    """``MLMON_MAINTENANCE_*``: options of this service only."""

    tick_interval_s: float = Field(60.0, gt=0, description="how often the schedule timer plans due work")
    worker_poll_s: float = Field(1.0, gt=0, description="how often the worker looks for approved plans")


class MaintenanceSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8004))
    maintenance: MaintenanceOptions = Field(default_factory=MaintenanceOptions)
