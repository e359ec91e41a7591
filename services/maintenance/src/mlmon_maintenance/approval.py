"""Approval policy: which plans run without a human, and the approval step itself.

A plan is auto-approved only when every one of its actions is ``auto`` in the model's policy
(defaults: backup, cleanup and scaling auto; retraining, optimization, investigation manual).
"""

from __future__ import annotations

from datetime import datetime

from mlmon_maintenance.config import ActionType, MaintenanceConfig
from mlmon_maintenance.plans import MaintenancePlan

POLICY_ACTOR = "policy"


def manual_actions(plan: MaintenancePlan, config: MaintenanceConfig) -> list[ActionType]:
    """The plan's actions that need a human, in plan order."""
    approval = config.for_model(plan.model_id).approval
    return [a.type for a in plan.actions if approval[a.type] == "manual"]


def auto_approve(plan: MaintenancePlan, config: MaintenanceConfig, now: datetime) -> MaintenancePlan:
    """Approve a proposed plan if policy allows it; otherwise return it unchanged (waiting for a human)."""
    if plan.state != "proposed" or manual_actions(plan, config):
        return plan
    actions = ", ".join(a.type for a in plan.actions)
    return plan.approve(POLICY_ACTOR, f"policy: auto approval for {actions}", now)


def human_decision(plan: MaintenancePlan, decision: str, actor: str, why: str, now: datetime) -> MaintenancePlan:
    """``POST /v1/plans/{id}/approve|cancel``: the named person's decision, recorded in the audit trail."""
    if not actor.strip():
        raise ValueError("actor: who approves or cancels must be named")
    if decision == "approve":
        return plan.approve(actor, why or "approved", now)
    if decision == "cancel":
        return plan.cancel(actor, why or "cancelled", now)
    raise ValueError(f"decision: must be 'approve' or 'cancel', got {decision!r}")
