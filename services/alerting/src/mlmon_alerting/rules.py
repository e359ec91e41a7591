"""Threshold rules: metrics, drift and resource events in, alert observations out (pure, no I/O).

>>> from datetime import datetime, UTC
>>> from mlmon_common.events import MetricsEvent
>>> t = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
>>> ev = MetricsEvent(model_id="churn", window_start=t, window_end=t, values={"accuracy": 0.9})
>>> [(a.alertname, a.value, a.threshold) for a in AlertManager().check_thresholds(ev)]
[('ModelAccuracyLow', 0.9, 0.95)]
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlmon_alerting.actions import process_alert
from mlmon_alerting.config import (
    AlertType,
    RuleConfig,
    RulesField,
    ThresholdName,
    Thresholds,
    ThresholdsConfig,
)
from mlmon_alerting.fingerprint import fingerprint
from mlmon_common.events import DriftEvent, MetricsEvent, ResourceEvent, Severity

logger = logging.getLogger(__name__)

MIN_RULES: frozenset[str] = frozenset({"accuracy_min"})
METRIC_RULES: tuple[ThresholdName, ...] = (
    "accuracy_min",
    "latency_max",
    "error_rate_max",
    "cpu_max",
    "memory_max",
    "disk_max",
)
RESOURCE_FIELDS: dict[ThresholdName, str] = {
    "cpu_max": "cpu_percent",
    "memory_max": "memory_percent",
    "disk_max": "disk_percent",
}
DRIFT_RULES: dict[str, ThresholdName] = {"data": "data_drift_max", "model": "model_drift_max"}
CACHE_MAX = 100_000
RuleInput = MetricsEvent | DriftEvent | ResourceEvent


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(slots=True)
class Alert:
    """One rule evaluated on one event. ``breached``: the condition holds; ``cleared``: the value is
    back inside the threshold by at least the rule's hysteresis (so an active alert may resolve).

    Treat as immutable (not frozen only because frozen dataclasses are 3x slower to build, and this is
    the hot path); ``labels`` is shared between alerts of the same identity: copy before changing."""

    alertname: str
    alert_type: AlertType
    rule: ThresholdName
    severity: Severity
    labels: dict[str, str]
    value: float
    threshold: float
    breached: bool
    cleared: bool
    observed_at: datetime
    fingerprint: str
    for_s: float = 0.0
    for_windows: int = 1
    annotations: dict[str, str] = field(default_factory=dict)
    source_event_id: str = ""


class AlertManager:
    """The seed's ``AlertManager``: holds validated rules and thresholds, evaluates events."""

    def __init__(
        self,
        rules: Mapping[ThresholdName, RuleConfig] | None = None,
        thresholds: ThresholdsConfig | None = None,
    ) -> None:
        self.rules = dict(rules) if rules is not None else _default_rules()
        self.thresholds = thresholds or ThresholdsConfig()
        self._resolved: dict[tuple[str, str | None], Thresholds] = {}
        self._identities: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[dict[str, str], str]] = {}

    def thresholds_for(self, model_id: str, service: str | None = None) -> Thresholds:
        """Effective thresholds of a model/service (cached; overrides are static config)."""
        key = (model_id, service)
        found = self._resolved.get(key)
        if found is None:
            if len(self._resolved) >= CACHE_MAX:
                self._resolved.clear()
            found = self._resolved[key] = self.thresholds.resolve(model_id, service)
        return found

    def evaluate(self, event: RuleInput, thresholds: Thresholds | None = None) -> list[Alert]:
        """Every applicable enabled rule evaluated on ``event`` (breached or not), for the lifecycle."""
        if isinstance(event, MetricsEvent):
            th = thresholds or self.thresholds_for(event.model_id)
            pairs = [(r, event.values[self.rules[r].metric]) for r in METRIC_RULES if self._has(r, event)]
            return [self._observe(r, v, th, event, {}) for r, v in pairs]
        if isinstance(event, ResourceEvent):
            th = thresholds or self.thresholds_for(event.model_id, event.service)
            extra = {"service": event.service, "host": event.host}
            if event.pod:
                extra["pod"] = event.pod
            out = []
            for rule, attr in RESOURCE_FIELDS.items():
                value = getattr(event, attr)
                if value is not None and self.rules[rule].enabled:
                    out.append(self._observe(rule, value, th, event, extra))
            return out
        drift_rule = DRIFT_RULES.get(event.kind)
        if drift_rule is None or not self.rules[drift_rule].enabled:
            return []
        th = thresholds or self.thresholds_for(event.model_id)
        return [self._observe(drift_rule, event.score, th, event, {"drift_kind": event.kind})]

    def check_thresholds(self, metrics: RuleInput, thresholds: Thresholds | None = None) -> list[Alert]:
        """The seed's API: the alerts whose condition holds for this event."""
        return [a for a in self.evaluate(metrics, thresholds) if a.breached]

    @staticmethod
    def process_alert(alert: Alert) -> list[str]:
        """The seed's API: recommended actions for an alert (see :mod:`mlmon_alerting.actions`)."""
        return process_alert(alert)

    def _has(self, rule: ThresholdName, event: MetricsEvent) -> bool:
        cfg = self.rules[rule]
        return cfg.enabled and cfg.metric in event.values

    def _observe(
        self, rule: ThresholdName, value: float, th: Thresholds, event: RuleInput, extra: dict[str, str]
    ) -> Alert:
        cfg = self.rules[rule]
        threshold = getattr(th, rule)
        if rule in MIN_RULES:
            breached, cleared = value < threshold, value >= threshold + cfg.hysteresis
        else:
            breached, cleared = value > threshold, value <= threshold - cfg.hysteresis
        key = (rule, event.model_id, tuple(extra.items()))
        identity = self._identities.get(key)
        if identity is None:
            if len(self._identities) >= CACHE_MAX:  # pods come and go: keep the cache bounded
                self._identities.clear()
            identity = self._identities[key] = _identity(cfg, event.model_id, extra)
        labels, fp = identity
        annotations = _render(cfg, labels, value, threshold) if breached else {}
        return Alert(
            cfg.alertname, cfg.alert_type, rule, cfg.severity, labels, value, threshold, breached,
            cleared, event.occurred_at, fp, cfg.for_, cfg.for_windows, annotations, event.event_id,
        )  # fmt: skip


def _identity(cfg: RuleConfig, model_id: str, extra: dict[str, str]) -> tuple[dict[str, str], str]:
    labels = {
        **cfg.labels,
        "alertname": cfg.alertname,
        "alert_type": cfg.alert_type,
        "severity": cfg.severity.name.lower(),
        "model_id": model_id,
        **extra,
    }
    return labels, fingerprint(labels)


def _render(cfg: RuleConfig, labels: dict[str, str], value: float, threshold: float) -> dict[str, str]:
    fields = _Blank(labels, value=value, threshold=threshold, metric=cfg.metric)
    fmt = string.Formatter()
    out = {}
    for name, template in cfg.annotations.items():
        try:
            out[name] = fmt.vformat(template, (), fields)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            logger.warning("annotation %s of %s failed to render", name, cfg.alertname)
            out[name] = template
    return out


def _default_rules() -> dict[ThresholdName, RuleConfig]:
    from pydantic import TypeAdapter

    return TypeAdapter(RulesField).validate_python(None)
