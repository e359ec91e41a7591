"""``auto_maintain``: the hands-off loop for one model — plan from its health check, approve by policy.

A plan whose actions are all ``auto`` in the model's policy comes back ``approved`` (ready to execute);
otherwise it comes back ``proposed``, waiting for a human.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from mlmon_maintenance.approval import auto_approve
from mlmon_maintenance.planning import MaintenanceManager, ModelState
from mlmon_maintenance.plans import MaintenancePlan


@dataclass(frozen=True)
class HealthCheck:
    """A model's latest health: the metric values the thresholds look at (accuracy, data_drift, ...)."""

    model_id: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    checked_at: datetime | None = None


def auto_maintain(
    model: ModelState, health_check: HealthCheck, manager: MaintenanceManager, now: datetime
) -> MaintenancePlan | None:
    if health_check.model_id != model.model_id:
        raise ValueError(f"health_check.model_id: {health_check.model_id!r} is not the model {model.model_id!r}")
    plan = manager.schedule_maintenance(model, health_check.metrics, now)
    if plan is None:
        return None
    return auto_approve(plan, manager.config, now)
