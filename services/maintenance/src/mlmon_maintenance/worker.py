"""Runs approved plans, one thread per plan, and finishes the ones a previous process left running.

``approved -> running`` is an optimistic transaction, so a plan starts at most once even with two
workers. Execution happens after that transition; a restarted service finds the plan ``running`` and

* re-attaches to its local command (the command executor's job directory records the pid and exit code;
  it never starts the command again), or
* keeps waiting for an external system (webhook callback, Kubernetes Job status), or
* marks it failed when it was an in-process action that the crash interrupted — never re-running it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlmon_common.events import MaintenanceEvent
from mlmon_maintenance.actions import ActionOutcome, ActionRunner
from mlmon_maintenance.executors.command import CommandExecutor
from mlmon_maintenance.executors.k8s_job import K8sJobExecutor
from mlmon_maintenance.executors.webhook import StatusCallback
from mlmon_maintenance.plans import IllegalTransitionError, MaintenancePlan
from mlmon_maintenance.state import StateStore

logger = logging.getLogger(__name__)

ACTOR = "worker"
_WATCH_INTERVAL_S = 5.0


class PlanWorker:
    def __init__(
        self,
        store: StateStore,
        actions: ActionRunner,
        publish: Callable[[MaintenanceEvent], None],
        clock: Callable[[], datetime],
        poll_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.actions = actions
        self.publish = publish
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._active: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._loop: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = threading.Thread(target=self.run, name="maintenance-worker", daemon=True)
        self._loop.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop picking up plans. Jobs keep running (own session); the next start re-attaches to them."""
        self._stop.set()
        self._wake.set()
        if self._loop is not None:
            self._loop.join(timeout_s)

    def alive(self) -> tuple[bool, str]:
        if self._loop is not None and not self._loop.is_alive() and not self._stop.is_set():
            return False, "plan worker thread exited"
        return True, "ok"

    def wake(self) -> None:
        self._wake.set()

    def active(self) -> list[str]:
        with self._lock:
            return [pid for pid, t in self._active.items() if t.is_alive()]

    def run(self) -> None:
        try:
            self.resume_all()
            while not self._stop.is_set():
                self._wake.clear()
                self.poll_once()
                self._wake.wait(self.poll_interval_s)
        except Exception:
            logger.exception("plan worker crashed")
            raise

    def poll_once(self) -> None:
        now = self.clock()
        for plan in self.store.in_flight():
            if plan.state == "approved" and plan.due_at <= now:
                self._spawn(plan.id, self.execute, plan)

    def _spawn(self, plan_id: str, target: Callable[[MaintenancePlan], None], plan: MaintenancePlan) -> None:
        with self._lock:
            if plan_id in self._active and self._active[plan_id].is_alive():
                return
            thread = threading.Thread(target=self._guard, args=(target, plan), name=f"plan-{plan_id}", daemon=True)
            self._active[plan_id] = thread
            thread.start()

    def _guard(self, target: Callable[[MaintenancePlan], None], plan: MaintenancePlan) -> None:
        try:
            target(plan)
        except Exception as exc:
            logger.exception("plan execution failed", extra={"plan_id": plan.id})
            self._finish(plan.id, False, {}, f"internal error: {type(exc).__name__}: {exc}")

    # -- running ---------------------------------------------------------------------------------------

    def execute(self, plan: MaintenancePlan) -> None:
        actions = ", ".join(a.type for a in plan.actions)
        try:
            plan = self.store.update(plan.id, lambda p: p.start(ACTOR, f"executing {actions}", self.clock()))
        except IllegalTransitionError as exc:
            logger.info("plan not started: %s", exc, extra={"plan_id": plan.id})
            return
        self.publish(plan.to_event())
        results: dict[str, Any] = {}
        for action in plan.actions:
            try:
                outcome = self.actions.run(plan, action.type)
            except Exception as exc:
                logger.exception("action %s failed", action.type, extra={"plan_id": plan.id})
                outcome = ActionOutcome(False, {"why": f"{type(exc).__name__}: {exc}"})
            results[action.type] = outcome.result
            if outcome.ok is None:
                self._await_external(plan, action.type, results)
                return
            if not outcome.ok:
                self._finish(plan.id, False, results, f"{action.type} failed")
                return
        self._finish(plan.id, True, results, "all actions done")

    def _await_external(self, plan: MaintenancePlan, action: str, results: dict[str, Any]) -> None:
        executor = results[action].get("executor", "?")
        self.store.update(
            plan.id, lambda p: p.model_copy(update={"result": {**p.result, "awaiting": executor, "actions": results}})
        )
        logger.info("plan handed to %s", executor, extra={"plan_id": plan.id})
        self._watch(self.store.get(plan.id))

    def _watch(self, plan: MaintenancePlan) -> None:
        """Kubernetes Jobs are watched by polling their status; webhooks report back by callback."""
        executor = self.actions.executors.get(str(plan.result.get("awaiting")))
        if not isinstance(executor, K8sJobExecutor) or executor.batch_api is None:
            return
        while not self._stop.wait(_WATCH_INTERVAL_S):
            status = executor.status(plan)
            if status in ("succeeded", "failed"):
                results = {**plan.result.get("actions", {}), "job_status": status}
                self._finish(plan.id, status == "succeeded", results, f"kubernetes job {status}")
                return

    def _finish(self, plan_id: str, ok: bool, results: dict[str, Any], why: str) -> MaintenancePlan | None:
        result = _summary(results)
        now = self.clock()
        try:
            if ok:
                plan = self.store.update(plan_id, lambda p: p.succeed(ACTOR, why, now, result))
            else:
                plan = self.store.update(plan_id, lambda p: p.fail(ACTOR, why, now, result))
        except IllegalTransitionError as exc:  # cancelled meanwhile: the human decision stands
            logger.warning("plan result not recorded: %s", exc, extra={"plan_id": plan_id})
            return None
        self.publish(plan.to_event())
        return plan

    # -- after a restart -------------------------------------------------------------------------------

    def resume_all(self) -> int:
        running = [p for p in self.store.in_flight() if p.state == "running" and p.id not in self.active()]
        for plan in running:
            self._spawn(plan.id, self.resume, plan)
        return len(running)

    def resume(self, plan: MaintenancePlan) -> None:
        if plan.result.get("awaiting"):
            self._watch(plan)
            return
        command = self.actions.executor_for(plan, "retraining") if "retraining" in plan.action_types else None
        if isinstance(command, CommandExecutor) and (command.job_dir(plan.id) / "state.json").exists():
            logger.info("re-attaching to the job of plan %s", plan.id, extra={"plan_id": plan.id})
            outcome = self.actions.interpret(plan, "retraining", command.recover(plan))
            results = {"retraining": {**outcome.result, "resumed_after_restart": True}}
            skipped = [a.type for a in plan.actions if a.type != "retraining"]
            if skipped:
                results["not_rerun"] = {"actions": skipped}
            self._finish(plan.id, bool(outcome.ok), results, "job re-attached after a restart")
            return
        why = "service restarted while the plan ran in-process; not re-run"
        self._finish(plan.id, False, {"resumed_after_restart": True}, why)

    def on_callback(self, cb: StatusCallback) -> MaintenancePlan | None:
        """A signed status report from the webhook's external system."""
        if cb.state == "running":
            return self.store.get(cb.plan_id)
        results = {"webhook": {"state": cb.state, "message": cb.message, **cb.result}}
        return self._finish(cb.plan_id, cb.state == "succeeded", results, f"webhook reported {cb.state}")


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    """The plan result: per-action results, with retraining's verification lifted to the top."""
    out: dict[str, Any] = {"actions": results}
    retraining = results.get("retraining") or {}
    for key in ("verification", "promoted", "drift_reference_reset"):
        if key in retraining:
            out[key] = retraining[key]
    return out
