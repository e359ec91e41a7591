"""The ``maintenance`` section of the mlmon YAML config, validated once at start-up.

Defaults are the seed's ``MAINTENANCE_CONFIG``: retraining every 7 days, optimization every 30 days,
backup every day; triggers performance_drop 0.05, resource_usage 0.8, data_drift 0.1. Durations accept
seconds, ISO 8601 (``P7D``) or a short form (``90s``, ``15m``, ``12h``, ``7d``, ``2w``).

>>> cfg = MaintenanceConfig.model_validate({"models": {"churn": {"schedules": {"retraining": "2d"}}}})
>>> cfg.for_model("churn").schedules.retraining
datetime.timedelta(days=2)
>>> cfg.for_model("other").schedules.retraining
datetime.timedelta(days=7)
>>> cfg.for_model("churn").approval["retraining"]
'manual'
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError, model_validator

from mlmon_maintenance.autoscale import ScalePolicy
from mlmon_maintenance.durations import Duration, parse_duration

__all__ = ["Duration", "parse_duration"]

ActionType = Literal["retraining", "optimization", "scaling", "investigation", "backup", "cleanup"]
ACTION_TYPES: tuple[ActionType, ...] = (
    "retraining",
    "optimization",
    "scaling",
    "investigation",
    "backup",
    "cleanup",
)
Approval = Literal["auto", "manual"]
ExecutorKind = Literal["command", "k8s_job", "webhook", "none"]

Fraction = Annotated[float, Field(gt=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_M = TypeVar("_M", bound=BaseModel)


class Schedules(_Strict):
    """How often each routine action runs; ``null`` disables it."""

    retraining: Duration | None = timedelta(days=7)
    optimization: Duration | None = timedelta(days=30)
    backup: Duration | None = timedelta(days=1)
    cleanup: Duration | None = timedelta(days=1)

    @model_validator(mode="after")
    def _check_positive(self) -> Schedules:
        for name in ("retraining", "optimization", "backup", "cleanup"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"schedules.{name} must be a positive duration, got {value}")
        return self

    def interval(self, action: ActionType) -> timedelta | None:
        value = getattr(self, action, None)
        return value if isinstance(value, timedelta) else None


class Triggers(_Strict):
    """Thresholds that turn metrics into plans (fractions, 0-1)."""

    performance_drop: Fraction = 0.05
    """Relative drop of ``performance_metric`` vs the model's baseline that calls for retraining."""
    performance_metric: str = "accuracy"
    resource_usage: Fraction = 0.8
    """max(cpu, memory) utilisation (0-1) that calls for ``resource_action``."""
    resource_action: Literal["optimization", "scaling"] = "optimization"
    data_drift: Fraction = 0.1
    """Share of drifting features that calls for retraining."""
    error_rate: Fraction = 0.05
    """Prediction error rate that calls for an investigation."""


def _default_approval() -> dict[ActionType, Approval]:
    return {
        "retraining": "manual",
        "optimization": "manual",
        "scaling": "auto",
        "investigation": "manual",
        "backup": "auto",
        "cleanup": "auto",
    }


def _default_cooldown() -> dict[ActionType, Duration]:
    return {
        "retraining": timedelta(days=1),
        "optimization": timedelta(hours=6),
        "scaling": timedelta(minutes=10),
        "investigation": timedelta(hours=1),
        "backup": timedelta(hours=1),
        "cleanup": timedelta(hours=1),
    }


class Verification(_Strict):
    """Candidate vs current model on the most recent held-out window."""

    metric: Literal["accuracy", "log_loss"] = "accuracy"
    margin: Annotated[float, Field(ge=0, le=1)] = 0.01
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    min_holdout_rows: Annotated[int, Field(ge=1)] = 50


class ModelOverride(_Strict):
    """Per-model changes; fields left out keep the global value."""

    schedules: dict[str, Any] | None = None
    triggers: dict[str, Any] | None = None
    approval: dict[ActionType, Approval] | None = None
    executor: ExecutorKind | None = None


class CommandExecutorConfig(_Strict):
    argv: list[str] = Field(
        default_factory=lambda: ["{python}", "-m", "mlmon_maintenance.retrain", "--job-dir", "{job_dir}"],
        min_length=1,
    )
    """``{python}`` is the service's interpreter, ``{job_dir}`` the plan's job directory (it holds
    ``data.ndjson``, the recent labelled outcomes, and ``current.json``, the model in production)."""
    timeout: Duration = timedelta(hours=1)
    state_dir: Path = Path("var/maintenance/jobs")


class K8sJobExecutorConfig(_Strict):
    image: str = "ghcr.io/mlmon/maintenance:latest"
    namespace: str = "mlmon"
    service_account: str | None = None
    args: list[str] = Field(default_factory=lambda: ["python", "-m", "mlmon_maintenance.retrain"])
    cpu_request: str = "500m"
    memory_request: str = "512Mi"
    cpu_limit: str = "2"
    memory_limit: str = "2Gi"
    backoff_limit: Annotated[int, Field(ge=0, le=10)] = 1
    ttl_seconds_after_finished: Annotated[int, Field(ge=0)] = 86400
    active_deadline_seconds: Annotated[int, Field(ge=1)] = 3600
    kubernetes_version: str = "1.31"


class WebhookExecutorConfig(_Strict):
    url: HttpUrl | None = None
    secret: SecretStr | None = None
    callback_url: HttpUrl | None = None
    timeout: Duration = timedelta(seconds=10)


class Executors(_Strict):
    default: ExecutorKind = "command"
    per_action: dict[ActionType, ExecutorKind] = Field(default_factory=dict)
    command: CommandExecutorConfig = Field(default_factory=CommandExecutorConfig)
    k8s_job: K8sJobExecutorConfig = Field(default_factory=K8sJobExecutorConfig)
    webhook: WebhookExecutorConfig = Field(default_factory=WebhookExecutorConfig)

    @model_validator(mode="after")
    def _webhook_complete(self) -> Executors:
        used = {self.default, *self.per_action.values()}
        if "webhook" in used and (self.webhook.url is None or self.webhook.secret is None):
            raise ValueError("executors.webhook.url and executors.webhook.secret are required when used")
        return self


def _merged(cls: type[_M], base: _M, override: dict[str, Any] | None, where: str) -> _M:
    """``base`` with ``override`` applied, errors naming ``maintenance.<where>.<field>``."""
    try:
        return cls.model_validate({**base.model_dump(), **(override or {})})
    except ValidationError as exc:
        problems = "; ".join(
            f"maintenance.{where}.{'.'.join(map(str, e['loc'])) or '?'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None


class BackupConfig(_Strict):
    """Where ``backup`` actions write (``mlmon backup`` defaults to the same place)."""

    dir: Path = Path("var/maintenance/backups")
    keep: Annotated[int, Field(ge=1)] = 7
    """Backups kept in ``dir``; older ones are deleted after each new backup."""


class CleanupConfig(_Strict):
    """What ``cleanup`` actions remove: only what is past these ages."""

    pending_predictions_ttl: Duration = timedelta(days=1)
    """A pending prediction (``<prefix>join:*``) older than this will never be joined."""
    timeseries_retention: Duration = timedelta(days=90)
    """Time-series data (``<prefix>ts:*``) older than this is deleted."""
    finished_jobs: Duration = timedelta(days=7)
    """Job directories of finished plans older than this are deleted."""


class TrainingData(_Strict):
    window: Annotated[int, Field(ge=10, le=1_000_000)] = 5000
    """Most recent labelled outcomes kept per model (the retraining data)."""


class KubernetesConfig(_Strict):
    """The cluster used for Job submission and the scale subresource; off by default (dry run)."""

    enabled: bool = False
    in_cluster: bool = False
    """True: the pod's service account; False: the local kubeconfig."""
    namespace: str = "mlmon"
    deployments: dict[str, str] = Field(default_factory=dict)
    """Service name -> Deployment name for ``auto_scale`` (default ``mlmon-<service>``)."""


class ModelPolicy(_Strict):
    """The effective policy of one model: global values with its override applied."""

    model_id: str
    schedules: Schedules
    triggers: Triggers
    approval: dict[ActionType, Approval]
    cooldown: dict[ActionType, timedelta]
    executor: ExecutorKind


class MaintenanceConfig(_Strict):
    """``maintenance:`` in the mlmon YAML file."""

    schedules: Schedules = Field(default_factory=Schedules)
    triggers: Triggers = Field(default_factory=Triggers)
    approval: dict[ActionType, Approval] = Field(default_factory=_default_approval)
    cooldown: dict[ActionType, Duration] = Field(default_factory=_default_cooldown)
    incident_window: Duration = timedelta(minutes=30)
    """Alerts of one model within this window are one incident: one plan, not one per alert."""
    verification: Verification = Field(default_factory=Verification)
    executors: Executors = Field(default_factory=Executors)
    models: dict[str, ModelOverride] = Field(default_factory=dict)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    cleanup: CleanupConfig = Field(default_factory=CleanupConfig)
    training: TrainingData = Field(default_factory=TrainingData)
    autoscale: ScalePolicy = Field(default_factory=ScalePolicy)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)

    @model_validator(mode="after")
    def _complete(self) -> MaintenanceConfig:
        object.__setattr__(self, "approval", {**_default_approval(), **self.approval})
        object.__setattr__(self, "cooldown", {**_default_cooldown(), **self.cooldown})
        for model_id in self.models:
            self.for_model(model_id)  # surfaces bad overrides at start-up, naming the model
        return self

    def for_model(self, model_id: str) -> ModelPolicy:
        override = self.models.get(model_id) or ModelOverride()
        schedules = _merged(Schedules, self.schedules, override.schedules, f"models.{model_id}.schedules")
        triggers = _merged(Triggers, self.triggers, override.triggers, f"models.{model_id}.triggers")
        return ModelPolicy(
            model_id=model_id,
            schedules=schedules,
            triggers=triggers,
            approval={**self.approval, **(override.approval or {})},
            cooldown=dict(self.cooldown),
            executor=override.executor or self.executors.default,
        )
