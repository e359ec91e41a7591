"""The ``reporting`` section of the mlmon YAML config (file named by ``MLMON_CONFIG``).

Defaults are the seed's ``THRESHOLD_CONFIG``; per-model overrides replace single thresholds.

>>> cfg = ReportingConfig.model_validate({"overrides": {"churn": {"accuracy_min": 0.9}}})
>>> cfg.thresholds_for("churn").accuracy_min, cfg.thresholds_for("other").accuracy_min
(0.9, 0.95)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from mlmon_reporting.timeframe import parse_duration

Positive = Annotated[float, Field(gt=0)]
Percent = Annotated[float, Field(gt=0, le=100)]
Share = Annotated[float, Field(ge=0, le=1)]


class Thresholds(BaseModel):
    """Seed thresholds; units: latency in seconds, resources in percent, drift as a share (0-1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy_min: Share = 0.95
    latency_max: Positive = 0.2
    error_rate_max: Share = 0.05
    cpu_max: Percent = 80.0
    memory_max: Percent = 85.0
    disk_max: Percent = 90.0
    data_drift_max: Share = 0.1
    model_drift_max: Share = 0.15


class ThresholdOverride(BaseModel):
    """Per-model replacements; unset fields keep the global value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy_min: Share | None = None
    latency_max: Positive | None = None
    error_rate_max: Share | None = None
    cpu_max: Percent | None = None
    memory_max: Percent | None = None
    disk_max: Percent | None = None
    data_drift_max: Share | None = None
    model_drift_max: Share | None = None


class Retention(BaseModel):
    """Time-series resolutions: 1-min points for 48 h, 1-h rollups for 90 d (seed of issue 7)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_step_s: Annotated[int, Field(ge=1, le=3600)] = 60
    raw_retention_h: Annotated[int, Field(ge=1, le=24 * 14)] = 48
    rollup_step_s: Annotated[int, Field(ge=60, le=86400)] = 3600
    rollup_retention_d: Annotated[int, Field(ge=1, le=3650)] = 90
    max_series_per_model: Annotated[int, Field(ge=1, le=10_000)] = 300


class Logs(BaseModel):
    """Event logs kept per model for reports and history (capped by age and count)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_d: Annotated[int, Field(ge=1, le=400)] = 35
    max_events_per_model: Annotated[int, Field(ge=100, le=1_000_000)] = 20_000
    dedupe_window_h: Annotated[int, Field(ge=1, le=24 * 14)] = 48


class Schedule(BaseModel):
    """Scheduled reports: the daily one covers the previous UTC day, the weekly one the previous ISO week."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily: bool = True
    weekly: bool = True
    keep_d: Annotated[int, Field(ge=1, le=3650)] = 90


class Email(BaseModel):
    """SMTP delivery of scheduled reports (HTML body, Markdown alternative, JSON attached)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    sender: Annotated[str, Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")]
    to: Annotated[list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]], Field(min_length=1)]
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ssl: bool = False
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0

    @model_validator(mode="after")
    def _tls(self) -> Email:
        if self.ssl and self.starttls:
            raise ValueError("ssl and starttls are exclusive (ssl: implicit TLS, port 465; starttls: port 587)")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        return self


class ReportingConfig(BaseModel):
    """Everything the reporting domain needs; validated once at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thresholds: Thresholds = Thresholds()
    overrides: dict[str, ThresholdOverride] = Field(default_factory=dict)
    retention: Retention = Retention()
    trend_window: str = "7d"
    forecast_horizon: str = "14d"
    forecast_warning_within: str = "3d"
    logs: Logs = Logs()
    schedule: Schedule = Schedule()
    email: Email | None = None

    @field_validator("trend_window", "forecast_horizon", "forecast_warning_within")
    @classmethod
    def _duration(cls, value: str, info: ValidationInfo) -> str:
        parse_duration(value, field=info.field_name or "duration")
        return value

    def thresholds_for(self, model_id: str) -> Thresholds:
        override = self.overrides.get(model_id)
        if override is None:
            return self.thresholds
        changes = override.model_dump(exclude_none=True)
        return self.thresholds.model_copy(update=changes)
