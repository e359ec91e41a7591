"""The maintenance loop around the pure planner: inputs in, plans stored, every state change published.

``Coordinator`` takes decoded events (alerts, metrics, outcomes), timer ticks and human decisions; it
keeps per-model state in the :class:`~mlmon_maintenance.state.StateStore`, runs ``schedule_maintenance``
under a per-model lock (the consumer and the timer never plan the same model at once), applies the
approval policy and publishes a ``MaintenanceEvent`` for each state change (deterministic event ids).
No Kafka and no HTTP here: ``publish`` is a callable and the HTTP layer maps the exceptions.

Backup and cleanup concern the whole installation, not one model: they are planned for the reserved
model id :data:`SYSTEM_MODEL` only, and retraining/optimization schedules only for real models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from redis.exceptions import LockError

from mlmon_common.errors import RetryableError
from mlmon_common.events import AlertEvent, MaintenanceEvent, MetricsEvent, OutcomeEvent, utcnow
from mlmon_maintenance.approval import auto_approve, human_decision, manual_actions
from mlmon_maintenance.config import ActionType, MaintenanceConfig
from mlmon_maintenance.planning import MaintenanceManager, ModelState
from mlmon_maintenance.plans import Action, IllegalTransitionError, MaintenancePlan, Reason
from mlmon_maintenance.retrain import Row
from mlmon_maintenance.state import StateStore

logger = logging.getLogger(__name__)

SYSTEM_MODEL = "_mlmon"
_SYSTEM_ACTIONS: frozenset[ActionType] = frozenset({"backup", "cleanup"})
_LOCK_TIMEOUT_S = 30
_DEDUPE_TTL_S = 7 * 24 * 3600


class ConflictError(ValueError):
    """A request that clashes with a plan in flight (names the plan)."""


class Coordinator:
    def __init__(
        self,
        config: MaintenanceConfig,
        store: StateStore,
        publish: Callable[[MaintenanceEvent], None],
        clock: Callable[[], datetime] = utcnow,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.store = store
        self.publish = publish
        self.clock = clock
        self.wake = wake
        self.manager = MaintenanceManager(config)

    # -- inputs ----------------------------------------------------------------------------------------

    def on_alert(self, alert: AlertEvent) -> MaintenancePlan | None:
        self.store.see_model(alert.model_id, self.clock())
        self.store.put_alert(alert)
        return self.plan_for(alert.model_id)

    def on_metrics(self, event: MetricsEvent) -> MaintenancePlan | None:
        self.store.see_model(event.model_id, self.clock())
        self.store.put_metrics(event.model_id, dict(event.values))
        return self.plan_for(event.model_id, event.values)

    def on_outcomes(self, outcomes: Sequence[OutcomeEvent]) -> int:
        """Append labelled outcomes to each model's bounded training window; returns rows kept."""
        by_model: dict[str, list[tuple[str, Row]]] = {}
        for o in outcomes:
            row = Row(features=o.features, label=o.label, occurred_at=o.predicted_at)
            by_model.setdefault(o.model_id, []).append((o.event_id, row))
        added = 0
        for model_id, rows in by_model.items():
            self.store.see_model(model_id, self.clock())
            added += self.store.add_rows(model_id, rows, self.config.training.window, _DEDUPE_TTL_S)
        return added

    def tick(self) -> list[MaintenancePlan]:
        """The schedule timer: plan what is due for every model (and the system), approve by policy."""
        now = self.clock()
        self.store.see_model(SYSTEM_MODEL, now)
        created = [p for m in self.store.models() if (p := self.plan_for(m, self.store.metrics(m))) is not None]
        for plan in self.store.in_flight():
            if plan.state == "proposed":
                self._auto_approve(plan)  # a crash between "proposed" and its auto approval heals here
        return created

    # -- planning --------------------------------------------------------------------------------------

    @contextmanager
    def _model_lock(self, model_id: str) -> Iterator[None]:
        """One planner per model at a time (consumer, timer, HTTP, other replicas)."""
        lock = self.store.r.lock(f"{self.store.p}lock:{model_id}", timeout=_LOCK_TIMEOUT_S, blocking_timeout=60)
        try:
            with lock:
                yield
        except LockError as exc:
            raise RetryableError(f"planning lock of {model_id}: {exc}") from exc

    def plan_for(self, model_id: str, metrics: Mapping[str, float] | None = None) -> MaintenancePlan | None:
        with self._model_lock(model_id):
            now = self.clock()
            state = ModelState(
                model_id=model_id,
                alerts=self.store.alerts(model_id),
                plans=self.store.recent_plans(model_id),
                last_runs=self._last_runs(model_id, now),
                baseline=self.store.baseline(model_id),
            )
            plan = self.manager.schedule_maintenance(state, metrics or {}, now)
            if plan is None or not self.store.create(plan):
                return None
        logger.info("plan proposed", extra={"plan_id": plan.id, "model_id": model_id, "state": plan.state})
        self.publish(plan.to_event())
        return self._auto_approve(plan)

    def _last_runs(self, model_id: str, now: datetime) -> dict[ActionType, datetime]:
        """Stored last runs; schedules that do not apply to this kind of model look as if just run."""
        runs = self.store.last_runs(model_id)
        system = model_id == SYSTEM_MODEL
        for action in ("retraining", "optimization", "backup", "cleanup"):
            if (action in _SYSTEM_ACTIONS) != system:
                runs[action] = now
        return runs

    def _auto_approve(self, plan: MaintenancePlan) -> MaintenancePlan:
        if plan.state != "proposed" or manual_actions(plan, self.config):
            return plan
        try:
            approved = self.store.update(plan.id, lambda p: auto_approve(p, self.config, self.clock()))
        except IllegalTransitionError:
            return self.store.get(plan.id)
        if approved.state == "approved":
            self.publish(approved.to_event())
            self.wake()
        return approved

    # -- requests from people --------------------------------------------------------------------------

    def decide(self, plan_id: str, decision: str, actor: str, why: str) -> MaintenancePlan:
        """Approve or cancel; raises ``PlanNotFoundError``, ``IllegalTransitionError`` or ``ValueError``."""
        plan = self.store.update(plan_id, lambda p: human_decision(p, decision, actor, why, self.clock()))
        logger.info("plan %s by %s", plan.state, actor, extra={"plan_id": plan_id, "model_id": plan.model_id})
        self.publish(plan.to_event())
        if plan.state == "approved":
            self.wake()
        return plan

    def request(
        self,
        model_id: str,
        actions: Sequence[Action],
        actor: str,
        why: str,
        priority: int = 3,
        request_id: str | None = None,
    ) -> tuple[MaintenancePlan, bool]:
        """A plan asked for by a person: (plan, created). Same ``request_id`` -> same plan (idempotent)."""
        now = self.clock()
        self.store.see_model(model_id, now)
        reasons = [Reason(source="manual", name=why or f"requested by {actor}", action=a.type) for a in actions]
        with self._model_lock(model_id):
            plan = MaintenancePlan.propose(
                model_id=model_id,
                actions=actions,
                priority=priority,
                reasons=reasons,
                due_at=now,
                now=now,
                key=f"manual:{request_id or now.isoformat()}",
                actor=actor,
            )
            if request_id and self._exists(plan.id):
                return self.store.get(plan.id), False
            wanted = {a.type for a in actions}
            for other in self.store.recent_plans(model_id):
                if other.in_flight and other.action_types & wanted:
                    busy = ", ".join(sorted(other.action_types & wanted))
                    raise ConflictError(f"plan {other.id} ({other.state}) already covers {busy} for {model_id}")
            self.store.create(plan)
        self.publish(plan.to_event())
        return self._auto_approve(plan), True

    def _exists(self, plan_id: str) -> bool:
        return bool(self.store.r.exists(self.store.plan_key(plan_id)))

    def republish(self, within: timedelta = timedelta(days=1)) -> int:
        """At start-up: re-send the current state of plans in flight or recently created.

        A crash between storing a state change and the broker acknowledging its event would lose it;
        event ids are deterministic, so consumers drop the copies they already have.
        """
        since = self.clock() - within
        plans = {p.id: p for p in self.store.in_flight()}
        plans.update({p.id: p for p in self.store.find_plans(limit=500) if p.created_at >= since})
        for plan in plans.values():
            self.publish(plan.to_event())
        return len(plans)
