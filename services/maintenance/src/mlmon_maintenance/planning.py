"""Turn alerts, metrics and schedules into at most one maintenance plan per model and call.

Pure: the caller passes the model's firing alerts, its plans (in flight and recent), the last run time of
each action and ``now``. Dedup rules:

* an action already in an in-flight plan of the model is never planned again (so never two retrainings);
* an action that finished (any terminal state) less than its cooldown ago is not re-planned from an alert
  or a threshold (schedules follow their own interval);
* everything triggered in one call is merged into one plan, whose id derives from the incident (the
  alerts' fingerprints and start times, or the window), so replaying the same alerts gives the same id
  and ``schedule_maintenance`` returns ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mlmon_common.events import AlertEvent
from mlmon_maintenance.config import ACTION_TYPES, ActionType, MaintenanceConfig, ModelPolicy
from mlmon_maintenance.plans import Action, MaintenancePlan, Reason

logger = logging.getLogger(__name__)

#: Alert name/category keywords -> action, first match wins (checked against ``labels["category"]``,
#: then the alert name, case-insensitive).
ALERT_RULES: tuple[tuple[str, ActionType], ...] = (
    ("drift", "retraining"),
    ("performance", "retraining"),
    ("accuracy", "retraining"),
    ("f1", "retraining"),
    ("precision", "retraining"),
    ("recall", "retraining"),
    ("error", "investigation"),
    ("cpu", "optimization"),
    ("memory", "optimization"),
    ("disk", "cleanup"),
    ("resource", "optimization"),
    ("latency", "optimization"),
)
_SCHEDULE_PRIORITY = 4
_METRIC_PRIORITY = 2


@dataclass(frozen=True)
class ModelState:
    """What the planner knows about one model at ``now``."""

    model_id: str
    alerts: Sequence[AlertEvent] = ()
    plans: Sequence[MaintenancePlan] = ()
    last_runs: Mapping[ActionType, datetime] = field(default_factory=dict)
    baseline: Mapping[str, float] = field(default_factory=dict)
    """Reference metric values (e.g. accuracy when the model was promoted)."""


def classify_alert(alert: AlertEvent, resource_action: ActionType = "optimization") -> ActionType | None:
    """The action an alert calls for, or ``None``.

    ``recommended_actions`` naming an action type win; then keyword rules on category and name.
    """
    for action in alert.recommended_actions:
        if action in ACTION_TYPES:
            return action
    for text in (alert.labels.get("category", ""), alert.alertname):
        lowered = text.lower()
        for keyword, action in ALERT_RULES:
            if keyword in lowered:
                return resource_action if action == "optimization" else action
    return None


def alert_reasons(alerts: Sequence[AlertEvent], policy: ModelPolicy) -> list[Reason]:
    reasons = []
    for alert in alerts:
        if alert.status != "firing":
            continue
        action = classify_alert(alert, policy.triggers.resource_action)
        if action is None:
            logger.info("alert %s maps to no maintenance action", alert.alertname)
            continue
        reasons.append(
            Reason(source="alert", name=alert.alertname, action=action, value=alert.value, ref=alert.fingerprint)
        )
    return reasons


def metric_reasons(metrics: Mapping[str, float], baseline: Mapping[str, float], policy: ModelPolicy) -> list[Reason]:
    """Threshold checks: performance drop vs baseline, drift share, resource usage, error rate."""
    t = policy.triggers
    reasons = []
    name = t.performance_metric
    if name in metrics and baseline.get(name, 0) > 0:
        drop = (baseline[name] - metrics[name]) / baseline[name]
        if drop >= t.performance_drop:
            reasons.append(_metric(f"{name}_drop", round(drop, 6), t.performance_drop, "retraining"))
    if (drift := metrics.get("data_drift")) is not None and drift >= t.data_drift:
        reasons.append(_metric("data_drift", drift, t.data_drift, "retraining"))
    usage = max(metrics.get("cpu_percent", 0.0), metrics.get("memory_percent", 0.0)) / 100
    if usage >= t.resource_usage:
        reasons.append(_metric("resource_usage", round(usage, 6), t.resource_usage, t.resource_action))
    if (err := metrics.get("error_rate")) is not None and err >= t.error_rate:
        reasons.append(_metric("error_rate", err, t.error_rate, "investigation"))
    return reasons


def _metric(name: str, value: float, threshold: float, action: ActionType) -> Reason:
    return Reason(source="metric", name=name, action=action, value=value, threshold=threshold)


def schedule_reasons(
    last_runs: Mapping[ActionType, datetime], policy: ModelPolicy, now: datetime
) -> list[tuple[Reason, datetime]]:
    """Routine actions whose interval has elapsed, with their due time (never-run actions are due now)."""
    due = []
    for action in ("retraining", "optimization", "backup", "cleanup"):
        interval = policy.schedules.interval(action)
        if interval is None:
            continue
        last = last_runs.get(action)
        due_at = now if last is None else last + interval
        if due_at <= now:
            reason = Reason(source="schedule", name=f"every {interval}", action=action)
            due.append((reason, due_at))
    return due


def blocked_actions(plans: Sequence[MaintenancePlan], policy: ModelPolicy, now: datetime) -> set[ActionType]:
    """Actions in flight, or finished within their cooldown."""
    blocked: set[ActionType] = set()
    for plan in plans:
        if plan.in_flight:
            blocked |= plan.action_types
            continue
        finished = plan.finished_at
        for action in plan.action_types:
            if finished is not None and now - finished < policy.cooldown.get(action, timedelta(0)):
                blocked.add(action)
    return blocked


class MaintenanceManager:
    """The seed's ``MaintenanceManager``: plans from alerts, thresholds and schedules."""

    def __init__(self, config: MaintenanceConfig) -> None:
        self.config = config

    def schedule_maintenance(
        self, model: ModelState, metrics: Mapping[str, float], now: datetime
    ) -> MaintenancePlan | None:
        """One merged plan for everything due now, or ``None`` if nothing new is needed."""
        policy = self.config.for_model(model.model_id)
        in_flight = [p for p in model.plans if p.in_flight]
        urgent = alert_reasons(model.alerts, policy) + metric_reasons(metrics, model.baseline, policy)
        cooling = blocked_actions(model.plans, policy, now)
        urgent = [r for r in urgent if r.action not in cooling]
        busy = {a for p in in_flight for a in p.action_types}
        scheduled = [(r, d) for r, d in schedule_reasons(model.last_runs, policy, now) if r.action not in busy]
        reasons = urgent + [r for r, _ in scheduled]
        if not reasons:
            return None
        plan = MaintenancePlan.propose(
            model_id=model.model_id,
            actions=_actions(reasons),
            priority=_priority(model.alerts, urgent),
            reasons=reasons,
            due_at=min((d for _, d in scheduled), default=now),
            now=now,
            key=self._incident_key(model.alerts, urgent, scheduled, now),
        )
        if any(p.id == plan.id for p in model.plans):
            logger.info("plan %s already exists for model %s; replay ignored", plan.id, model.model_id)
            return None
        return plan

    def _incident_key(
        self,
        alerts: Sequence[AlertEvent],
        urgent: Sequence[Reason],
        scheduled: Sequence[tuple[Reason, datetime]],
        now: datetime,
    ) -> str:
        fingerprints = {r.ref for r in urgent if r.source == "alert"}
        starts = sorted(f"{a.fingerprint}@{a.starts_at.isoformat()}" for a in alerts if a.fingerprint in fingerprints)
        parts = starts + sorted(f"{r.action}@{d.isoformat()}" for r, d in scheduled)
        if any(r.source == "metric" for r in urgent):
            window = self.config.incident_window.total_seconds()
            parts.append(f"metrics@{int(now.timestamp() // window)}")
        return "|".join(parts)


def _actions(reasons: Sequence[Reason]) -> list[Action]:
    seen: dict[ActionType, None] = {}
    for reason in reasons:
        seen.setdefault(reason.action, None)
    return [Action(type=a) for a in seen]


def _priority(alerts: Sequence[AlertEvent], urgent: Sequence[Reason]) -> int:
    """Most severe firing alert's severity (1-3); metrics alone 2; schedules alone 4."""
    refs = {r.ref for r in urgent if r.source == "alert"}
    severities = [int(a.severity) for a in alerts if a.fingerprint in refs]
    if severities:
        return min(severities)
    return _METRIC_PRIORITY if urgent else _SCHEDULE_PRIORITY
