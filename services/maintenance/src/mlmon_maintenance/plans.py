"""A maintenance plan and its state machine, with an audit trail of who moved it, when and why.

Plans are immutable: a transition returns a new plan with one more audit entry. Legal moves::

    proposed -> approved -> running -> succeeded | failed
    proposed | approved | running -> cancelled

>>> from datetime import UTC, datetime
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> plan = MaintenancePlan.propose(
...     model_id="churn", actions=[Action(type="backup")], priority=4, reasons=[], due_at=t0, now=t0
... )
>>> plan.approve("policy", "backup is auto", t0).state
'approved'
>>> plan.start("svc", "go", t0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mlmon_maintenance.plans.IllegalTransitionError: plan churn-... cannot go from 'proposed' to 'running' ...
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mlmon_common.events import Identifier, MaintenanceEvent, PlanState
from mlmon_maintenance.config import ActionType

TERMINAL: frozenset[PlanState] = frozenset({"succeeded", "failed", "cancelled"})
IN_FLIGHT: frozenset[PlanState] = frozenset({"proposed", "approved", "running"})
_ALLOWED: dict[PlanState, tuple[PlanState, ...]] = {
    "proposed": ("approved", "cancelled"),
    "approved": ("running", "cancelled"),
    "running": ("succeeded", "failed", "cancelled"),
    "succeeded": (),
    "failed": (),
    "cancelled": (),
}
Priority = Annotated[int, Field(ge=1, le=5)]


class IllegalTransitionError(ValueError):
    """A state change the plan's state machine does not allow."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Action(_Frozen):
    """One thing to do, with its parameters (e.g. ``{"replicas": 4}`` for scaling)."""

    type: ActionType
    params: dict[str, Any] = Field(default_factory=dict)


class Reason(_Frozen):
    """What caused a plan: an alert, a metric over its threshold, or a schedule."""

    source: Literal["alert", "metric", "schedule", "health", "manual"]
    name: str
    action: ActionType
    value: float | None = None
    threshold: float | None = None
    ref: str | None = Field(default=None, description="Alert fingerprint or event id.")

    def describe(self) -> str:
        text = f"{self.source}:{self.name}"
        if self.value is not None and self.threshold is not None:
            text += f" {self.value:g} vs {self.threshold:g}"
        return f"{text} -> {self.action}"


class AuditEntry(_Frozen):
    at: AwareDatetime
    actor: str = Field(min_length=1)
    from_state: PlanState | None
    to_state: PlanState
    why: str = ""


class MaintenancePlan(_Frozen):
    id: Identifier
    model_id: Identifier
    actions: tuple[Action, ...] = Field(min_length=1)
    priority: Priority = 3
    reasons: tuple[Reason, ...] = ()
    due_at: AwareDatetime
    created_at: AwareDatetime
    state: PlanState = "proposed"
    history: tuple[AuditEntry, ...] = ()
    result: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def propose(
        cls,
        *,
        model_id: str,
        actions: Sequence[Action],
        priority: int,
        reasons: Sequence[Reason],
        due_at: datetime,
        now: datetime,
        key: str = "",
        actor: str = "planner",
    ) -> MaintenancePlan:
        """A new plan in state ``proposed``. Same (model, actions, key) gives the same id (replays dedupe)."""
        action_names = [a.type for a in actions]
        plan_id = make_plan_id(model_id, action_names, key or now.isoformat())
        why = "; ".join(r.describe() for r in reasons) or "requested"
        entry = AuditEntry(at=now, actor=actor, from_state=None, to_state="proposed", why=why)
        return cls(
            id=plan_id,
            model_id=model_id,
            actions=tuple(actions),
            priority=priority,
            reasons=tuple(reasons),
            due_at=due_at,
            created_at=now,
            history=(entry,),
        )

    @property
    def action_types(self) -> frozenset[ActionType]:
        return frozenset(a.type for a in self.actions)

    @property
    def in_flight(self) -> bool:
        return self.state in IN_FLIGHT

    @property
    def finished_at(self) -> datetime | None:
        return self.history[-1].at if self.state in TERMINAL and self.history else None

    def transition(
        self, to: PlanState, actor: str, why: str, now: datetime, result: dict[str, Any] | None = None
    ) -> MaintenancePlan:
        allowed = _ALLOWED[self.state]
        if to not in allowed:
            names = ", ".join(allowed) or "none, it is final"
            raise IllegalTransitionError(f"plan {self.id} cannot go from {self.state!r} to {to!r} (allowed: {names})")
        entry = AuditEntry(at=now, actor=actor, from_state=self.state, to_state=to, why=why)
        merged = {**self.result, **(result or {})}
        return self.model_copy(update={"state": to, "history": (*self.history, entry), "result": merged})

    def approve(self, actor: str, why: str, now: datetime) -> MaintenancePlan:
        return self.transition("approved", actor, why, now)

    def start(self, actor: str, why: str, now: datetime) -> MaintenancePlan:
        return self.transition("running", actor, why, now)

    def succeed(self, actor: str, why: str, now: datetime, result: dict[str, Any]) -> MaintenancePlan:
        return self.transition("succeeded", actor, why, now, result)

    def fail(self, actor: str, why: str, now: datetime, result: dict[str, Any]) -> MaintenancePlan:
        return self.transition("failed", actor, why, now, result)

    def cancel(self, actor: str, why: str, now: datetime) -> MaintenancePlan:
        return self.transition("cancelled", actor, why, now)

    def to_event(self) -> MaintenanceEvent:
        """The ``mlmon.maintenance.v1`` event for the plan's latest state change.

        The event id is derived from (plan id, state), so re-publishing the same state dedupes downstream.
        """
        last = self.history[-1]
        return MaintenanceEvent(
            event_id=make_plan_id(self.id, [self.state], "event"),
            occurred_at=last.at,
            model_id=self.model_id,
            plan_id=self.id,
            state=self.state,
            actions=[a.type for a in self.actions],
            priority=self.priority,
            reason="; ".join(r.describe() for r in self.reasons),
            actor=last.actor,
            result={**self.result, "why": last.why, "due_at": self.due_at.isoformat()},
        )


def make_plan_id(model_id: str, actions: Iterable[str], key: str) -> str:
    """A stable id: ``<model>-<sha256 of model, sorted actions and key, 16 hex>``.

    >>> make_plan_id("churn", ["retraining"], "fp1")
    'churn-489b68c3b5c6e303'
    """
    digest = hashlib.sha256("|".join([model_id, ",".join(sorted(actions)), key]).encode()).hexdigest()
    return f"{model_id[:80]}-{digest[:16]}"
