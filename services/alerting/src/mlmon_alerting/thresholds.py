"""Thresholds (the seed's THRESHOLD_CONFIG) with per-model/per-service overrides, and the rule table.

>>> ThresholdsConfig(models={"m": ThresholdOverrides(accuracy_min=0.9)}).resolve("m").accuracy_min
0.9
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from mlmon_alerting.schema import Duration, LabelName, SeverityField, StrictModel
from mlmon_common.events import Severity

ThresholdName = Literal[
    "accuracy_min",
    "latency_max",
    "error_rate_max",
    "cpu_max",
    "memory_max",
    "disk_max",
    "data_drift_max",
    "model_drift_max",
]
AlertType = Literal["performance_degraded", "critical_resources", "data_drift", "model_drift", "prediction_errors"]
#: Placeholders an annotation template may use (``"{model_id}: accuracy {value:.3f} < {threshold}"``).
TEMPLATE_FIELDS = (
    "alertname",
    "alert_type",
    "severity",
    "model_id",
    "service",
    "host",
    "feature",
    "metric",
    "value",
    "threshold",
)


def _check_template(value: str) -> str:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError as exc:
        raise ValueError(f"invalid template {value!r}: {exc}") from None
    for name in names:
        base = re.split(r"[.\[]", name, maxsplit=1)[0]
        if base not in TEMPLATE_FIELDS:
            raise ValueError(f"unknown placeholder {{{name}}}; valid: {', '.join(TEMPLATE_FIELDS)}")
    return value


Template = Annotated[str, AfterValidator(_check_template)]


class Thresholds(StrictModel):
    """The seed's THRESHOLD_CONFIG; units: ratios 0-1, seconds, percent."""

    accuracy_min: float = Field(0.95, ge=0, le=1)
    latency_max: float = Field(0.2, gt=0, description="seconds (p95 latency)")
    error_rate_max: float = Field(0.05, ge=0, le=1)
    cpu_max: float = Field(80, gt=0)
    memory_max: float = Field(85, gt=0, le=100)
    disk_max: float = Field(90, gt=0, le=100)
    data_drift_max: float = Field(0.1, ge=0, le=1, description="share of drifting features")
    model_drift_max: float = Field(0.15, ge=0, le=1, description="relative performance drop")


class ThresholdOverrides(StrictModel):
    """Per-model or per-service overrides; unset fields keep the inherited value."""

    accuracy_min: float | None = Field(None, ge=0, le=1)
    latency_max: float | None = Field(None, gt=0)
    error_rate_max: float | None = Field(None, ge=0, le=1)
    cpu_max: float | None = Field(None, gt=0)
    memory_max: float | None = Field(None, gt=0, le=100)
    disk_max: float | None = Field(None, gt=0, le=100)
    data_drift_max: float | None = Field(None, ge=0, le=1)
    model_drift_max: float | None = Field(None, ge=0, le=1)


class ThresholdsConfig(StrictModel):
    defaults: Thresholds = Thresholds()
    models: dict[str, ThresholdOverrides] = Field(default_factory=dict)
    services: dict[str, ThresholdOverrides] = Field(default_factory=dict)

    def resolve(self, model_id: str, service: str | None = None) -> Thresholds:
        """Defaults, then the service's overrides, then the model's (the most specific wins)."""
        merged = self.defaults.model_dump()
        for layer in (self.services.get(service or ""), self.models.get(model_id)):
            if layer is not None:
                merged.update(layer.model_dump(exclude_none=True))
        return Thresholds.model_validate(merged)


class RuleConfig(StrictModel):
    """How one threshold becomes an alert."""

    alertname: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    alert_type: AlertType
    enabled: bool = True
    metric: str = Field("", description="MetricsEvent value name read by this rule (metrics rules only)")
    for_: Duration = Field(0.0, alias="for", description="condition must hold this long before firing")
    for_windows: int = Field(1, ge=1, description="...and for this many consecutive observations")
    severity: SeverityField = Severity.WARNING
    hysteresis: float = Field(0.0, ge=0, description="resolve only once the value is this far back inside")
    labels: dict[LabelName, str] = Field(default_factory=dict)
    annotations: dict[LabelName, Template] = Field(default_factory=dict)


def _rule(
    alertname: str, alert_type: str, severity: str, hysteresis: float, metric: str, summary: str
) -> dict[str, Any]:
    runbook = f"https://mlmon.dev/runbooks/{alert_type.replace('_', '-')}"
    return {
        "alertname": alertname,
        "alert_type": alert_type,
        "severity": severity,
        "hysteresis": hysteresis,
        "metric": metric,
        "annotations": {"summary": summary, "runbook": runbook},
    }


DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "accuracy_min": _rule(
        "ModelAccuracyLow", "performance_degraded", "critical", 0.01, "accuracy",
        "{model_id}: accuracy {value:.3f} below {threshold}",
    ),
    "latency_max": _rule(
        "ModelLatencyHigh", "performance_degraded", "warning", 0.02, "latency_p95_s",
        "{model_id}: p95 latency {value:.3f}s above {threshold}s",
    ),
    "error_rate_max": _rule(
        "PredictionErrorRateHigh", "prediction_errors", "critical", 0.01, "error_rate",
        "{model_id}: prediction error rate {value:.3f} above {threshold}",
    ),
    "cpu_max": _rule(
        "CPUUsageHigh", "critical_resources", "warning", 5, "cpu_percent",
        "{service} on {host}: CPU {value:.1f}% above {threshold}%",
    ),
    "memory_max": _rule(
        "MemoryUsageHigh", "critical_resources", "critical", 5, "memory_percent",
        "{service} on {host}: memory {value:.1f}% above {threshold}%",
    ),
    "disk_max": _rule(
        "DiskUsageHigh", "critical_resources", "critical", 2, "disk_percent",
        "{service} on {host}: disk {value:.1f}% above {threshold}%",
    ),
    "data_drift_max": _rule(
        "DataDrift", "data_drift", "warning", 0.02, "",
        "{model_id}: {value:.0%} of features drifting (max {threshold:.0%})",
    ),
    "model_drift_max": _rule(
        "ModelDrift", "model_drift", "critical", 0.02, "",
        "{model_id}: performance dropped {value:.1%} vs reference (max {threshold:.0%})",
    ),
}  # fmt: skip


def _merge_rule_defaults(value: object) -> object:
    """User entries are partial: merge them over the built-in rule of the same threshold."""
    if value is None:
        return {k: dict(v) for k, v in DEFAULT_RULES.items()}
    if not isinstance(value, Mapping):
        return value
    unknown = sorted(str(k) for k in value if k not in DEFAULT_RULES)
    if unknown:
        raise ValueError(f"unknown rule {unknown[0]!r}; valid: {', '.join(DEFAULT_RULES)}")
    merged: dict[Any, Any] = {k: dict(v) for k, v in DEFAULT_RULES.items()}
    for key, entry in value.items():
        base = merged.get(key, {})
        merged[key] = {**base, **entry} if isinstance(entry, Mapping) else entry
    return merged


RulesField = Annotated[dict[ThresholdName, RuleConfig], BeforeValidator(_merge_rule_defaults)]
