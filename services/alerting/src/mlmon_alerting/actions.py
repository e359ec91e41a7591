"""Recommended actions per alert type: the seed's ``process_alert(alert)``.

Actions are short imperative strings the maintenance service and on-call read; the first is the
first thing to do. Critical alerts add escalation; resource alerts name the resource.

>>> process_alert({"alert_type": "data_drift", "severity": 2, "labels": {}})[0]
'check the input data pipeline for schema or upstream changes'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlmon_common.events import AlertEvent, Severity

ACTIONS: dict[str, tuple[str, ...]] = {
    "performance_degraded": (
        "compare recent predictions with labels to confirm the degradation",
        "check the input data pipeline for schema or upstream changes",
        "retrain the model on recent labelled data",
        "roll back to the previous model version if the drop persists",
    ),
    "prediction_errors": (
        "inspect the model server logs for the failing requests",
        "check the input data pipeline for malformed requests",
        "roll back to the previous model version if the errors started with a deployment",
    ),
    "critical_resources": (
        "scale out the service (more replicas) or up (larger limits)",
        "look for a leak or a hot loop in the process",
    ),
    "data_drift": (
        "check the input data pipeline for schema or upstream changes",
        "compare drifting features with the training reference",
        "retrain the model on recent data if the drift is real",
    ),
    "model_drift": (
        "retrain the model on recent labelled data",
        "roll back to the previous model version if a recent deployment caused it",
        "check the input data pipeline for schema or upstream changes",
    ),
}
RESOURCE_HINTS = {
    "DiskUsageHigh": "free disk space: rotate logs, clean old model artifacts and caches",
    "MemoryUsageHigh": "raise the memory limit or reduce batch sizes",
    "CPUUsageHigh": "enable autoscaling on CPU or request more CPU",
}
ESCALATE = "page the model owner (critical)"


def _get(alert: Any, name: str, default: Any) -> Any:
    if isinstance(alert, Mapping):
        return alert.get(name, default)
    return getattr(alert, name, default)


def process_alert(alert: AlertEvent | Mapping[str, Any] | Any) -> list[str]:
    """Recommended actions for an alert (an ``Alert``, an ``AlertEvent``, or a state dict)."""
    labels = _get(alert, "labels", {}) or {}
    alert_type = _get(alert, "alert_type", None) or labels.get("alert_type", "")
    alertname = _get(alert, "alertname", None) or labels.get("alertname", "")
    actions = list(ACTIONS.get(alert_type, ("investigate the alert and its runbook",)))
    hint = RESOURCE_HINTS.get(alertname)
    if hint:
        actions.insert(1, hint)
    if int(_get(alert, "severity", Severity.INFO)) == Severity.CRITICAL:
        actions.append(ESCALATE)
    return actions
