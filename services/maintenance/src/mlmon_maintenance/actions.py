"""What each action of a plan does when it runs.

* ``retraining`` goes to the model's executor (``command`` by default). For the command executor the job
  directory is prepared first: ``data.ndjson`` (the model's recent labelled outcomes, oldest first),
  ``current.json`` (the model in production, if any) and ``verification.json`` (metric, margin, holdout).
  The shipped script (``python -m mlmon_maintenance.retrain --job-dir <dir>``) trains a candidate, verifies
  it on the most recent held-out rows and exits 0 (promote) or 3 (reject); both are a successful run.
  A promotion stores the candidate as the production model, its metrics as the new baseline, and writes
  ``<prefix>drift:reference_reset:<model>`` with the promotion time.
* ``backup`` and ``cleanup`` run in-process (:mod:`backup`, :mod:`cleanup`).
* ``optimization`` runs ``auto_optimize`` on the model's latest metrics; ``scaling`` runs ``auto_scale``;
  ``investigation`` records that a person must look (its reasons say at what).

Each returns an :class:`ActionOutcome`: ``ok`` (bool, or ``None`` when handed to an external system and
still in progress) and a JSON-able ``result`` that goes into the plan and its event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlmon_maintenance.backup import backup
from mlmon_maintenance.cleanup import cleanup
from mlmon_maintenance.config import ActionType, MaintenanceConfig
from mlmon_maintenance.executors.base import ExecutionResult, Executor
from mlmon_maintenance.executors.command import CommandExecutor
from mlmon_maintenance.optimize import ModelRuntime, auto_optimize
from mlmon_maintenance.plans import MaintenancePlan
from mlmon_maintenance.retrain import EXIT_PROMOTED, EXIT_REJECTED
from mlmon_maintenance.scaling import Scaler
from mlmon_maintenance.state import StateStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool | None
    result: dict[str, Any] = field(default_factory=dict)


class ActionRunner:
    def __init__(
        self,
        config: MaintenanceConfig,
        store: StateStore,
        executors: dict[str, Executor],
        scaler: Scaler,
        clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.executors = executors
        self.scaler = scaler
        self.clock = clock

    def executor_for(self, plan: MaintenancePlan, action: ActionType) -> Executor | None:
        """The external executor of an action, or ``None`` for an in-process one."""
        kind = self.config.executors.per_action.get(action)
        if kind is None and action == "retraining":
            kind = self.config.for_model(plan.model_id).executor
        if kind is None or kind == "none":
            return None
        return self.executors.get(kind)

    def run(self, plan: MaintenancePlan, action: ActionType) -> ActionOutcome:
        executor = self.executor_for(plan, action)
        if action == "retraining" or executor is not None:
            if executor is None:
                return ActionOutcome(False, {"why": "no executor configured for retraining (executor: none)"})
            return self.external(plan, action, executor)
        handler = getattr(self, f"_{action}")
        outcome: ActionOutcome = handler(plan)
        return outcome

    # -- external executors ----------------------------------------------------------------------------

    def external(self, plan: MaintenancePlan, action: ActionType, executor: Executor) -> ActionOutcome:
        if isinstance(executor, CommandExecutor) and action == "retraining":
            self.prepare_job(plan, executor)
        return self.interpret(plan, action, executor.execute(plan))

    def interpret(self, plan: MaintenancePlan, action: ActionType, res: ExecutionResult) -> ActionOutcome:
        """Turn an executor's result into the action's outcome (verification and promotion included)."""
        result = res.plan_result()
        if res.output:
            result["output_tail"] = res.output[-1000:]
        if res.status in ("submitted", "running"):
            return ActionOutcome(None, result)
        if res.status == "dry_run":
            result.pop("manifest", None)
            return ActionOutcome(True, result)
        job_dir = res.details.get("job_dir")
        if action == "retraining" and job_dir and res.exit_code in (EXIT_PROMOTED, EXIT_REJECTED):
            return self._verified(plan, Path(job_dir), result)
        return ActionOutcome(res.status == "succeeded", result)

    def prepare_job(self, plan: MaintenancePlan, executor: CommandExecutor) -> None:
        d = executor.job_dir(plan.id)
        if (d / "state.json").exists():
            return  # started before: the executor re-attaches, inputs stay as they were
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "data.ndjson", "wb") as fh:
            for line in self.store.rows(plan.model_id):
                fh.write(line + b"\n")
        current = self.store.production_model(plan.model_id)
        if current is not None:
            (d / "current.json").write_text(current)
        (d / "verification.json").write_text(self.config.verification.model_dump_json())

    def _verified(self, plan: MaintenancePlan, job_dir: Path, result: dict[str, Any]) -> ActionOutcome:
        try:
            report = json.loads((job_dir / "report.json").read_text())
        except (OSError, ValueError) as exc:  # a custom command without verification: its exit code decides
            ok = result.get("exit_code") == EXIT_PROMOTED
            return ActionOutcome(ok, {**result, "verification": None, "promoted": False, "why": f"no report: {exc}"})
        result = {**result, "verification": report, "promoted": report.get("decision") == "promote"}
        if result["promoted"]:
            now = self.clock()
            candidate = (job_dir / "candidate.json").read_text()
            self.store.promote(plan.model_id, candidate, report.get("after") or {}, now)
            result["drift_reference_reset"] = {"key": self.store.reset_key(plan.model_id), "at": now.isoformat()}
        logger.info("verification: %s", report.get("reason"), extra={"plan_id": plan.id, "model_id": plan.model_id})
        return ActionOutcome(True, result)

    # -- in-process actions ----------------------------------------------------------------------------

    def _backup(self, plan: MaintenancePlan) -> ActionOutcome:
        cfg = self.config.backup
        info = backup(self.store.r, self.store.prefix, cfg.dir, self.clock(), keep=cfg.keep)
        return ActionOutcome(True, {"path": str(info.path), "keys": info.keys, "sha256": info.sha256})

    def _cleanup(self, plan: MaintenancePlan) -> ActionOutcome:
        state_dir = self.config.executors.command.state_dir
        removed = cleanup(self.store.r, self.store.prefix, self.config.cleanup, state_dir, self.clock())
        return ActionOutcome(True, {"removed": removed})

    def _optimization(self, plan: MaintenancePlan) -> ActionOutcome:
        m = self.store.metrics(plan.model_id)
        params = next((a.params for a in plan.actions if a.type == "optimization"), {})
        runtime = ModelRuntime(
            model_id=plan.model_id,
            false_alarms=int(params.get("false_alarms", m.get("false_alarms", 0))),
            detector_threshold=params.get("detector_threshold"),
            latency_p95_s=m.get("latency_p95_s"),
            cpu=m["cpu_percent"] / 100 if "cpu_percent" in m else None,
            batch_size=int(params.get("batch_size", 1)),
            replicas=int(params.get("replicas", 1)),
        )
        recs = [asdict(r) for r in auto_optimize(runtime)]
        return ActionOutcome(True, {"recommendations": recs})

    def _scaling(self, plan: MaintenancePlan) -> ActionOutcome:
        params = next((a.params for a in plan.actions if a.type == "scaling"), {})
        m = self.store.metrics(plan.model_id)
        cpu = params.get("cpu", m["cpu_percent"] / 100 if "cpu_percent" in m else None)
        decision = self.scaler.decide(
            str(params.get("service", plan.model_id)), int(params.get("replicas", 1)), cpu, params.get("lag")
        )
        return ActionOutcome(True, {"scaling": decision})

    def _investigation(self, plan: MaintenancePlan) -> ActionOutcome:
        why = "; ".join(r.describe() for r in plan.reasons)
        return ActionOutcome(True, {"note": f"investigation needs a person; look at: {why}"})

    def _retraining(self, plan: MaintenancePlan) -> ActionOutcome:  # pragma: no cover - routed to executors
        return ActionOutcome(False, {"why": "retraining needs an executor"})
