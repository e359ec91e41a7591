"""The executor contract shared by the Kubernetes Job, webhook and local command executors."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mlmon_maintenance.plans import MaintenancePlan

#: ``submitted``: handed to an external system (Job created, webhook accepted), the outcome comes later;
#: ``dry_run``: rendered and validated only. ``succeeded``/``failed`` are final.
ExecutionStatus = Literal["succeeded", "failed", "submitted", "running", "dry_run"]


class ExecutionResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str
    executor: str
    status: ExecutionStatus
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    exit_code: int | None = None
    output: str = Field(default="", description="Captured output (tail) or response body.")
    retryable: bool = False
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.status in ("succeeded", "failed", "dry_run")

    def plan_result(self) -> dict[str, Any]:
        """What goes into ``MaintenancePlan.result`` / the maintenance event."""
        out: dict[str, Any] = {"executor": self.executor, "status": self.status}
        if self.exit_code is not None:
            out["exit_code"] = self.exit_code
        return {**out, **self.details}


def substitute(arg: str, plan: MaintenancePlan) -> str:
    """Fill ``{plan_id}``, ``{model_id}`` and ``{actions}`` placeholders of a command/Job argument."""
    actions = ",".join(a.type for a in plan.actions)
    return arg.replace("{plan_id}", plan.id).replace("{model_id}", plan.model_id).replace("{actions}", actions)


class Executor(Protocol):
    """Runs an approved plan. Must be idempotent per plan id: a second call never starts a second job."""

    name: str

    def execute(self, plan: MaintenancePlan) -> ExecutionResult: ...
