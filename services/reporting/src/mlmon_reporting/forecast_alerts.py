"""Turn a threshold-crossing forecast into an info/warning alert candidate (and an ``AlertEvent``).

Already-breached thresholds are not forecasts: the alerting service's threshold rules own those.

>>> from datetime import UTC, datetime
>>> from mlmon_reporting.trends import Forecast
>>> now = datetime(2026, 1, 1, tzinfo=UTC)
>>> fc = Forecast(metric="accuracy", threshold=0.95, direction="min", already_breached=False, eta_days=2.0,
...               eta_low_days=1.5, eta_high_days=3.0, at=now, message="accuracy expected to ...")
>>> forecast_alert("churn", fc).severity.name
'WARNING'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mlmon_common.events import AlertEvent, Severity
from mlmon_reporting.trends import Forecast

ALERTNAME = "MetricForecastCrossing"


@dataclass(frozen=True)
class AlertCandidate:
    alertname: str
    severity: Severity
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    value: float | None = None


def forecast_alert(
    model_id: str,
    forecast: Forecast,
    *,
    warning_within: timedelta = timedelta(days=3),
    horizon: timedelta = timedelta(days=14),
) -> AlertCandidate | None:
    """WARNING if the crossing is expected within ``warning_within`` and the slope is significant
    (finite upper bound), INFO within ``horizon``, else nothing."""
    if forecast.already_breached:
        return None
    eta = timedelta(days=forecast.eta_days)
    if eta > horizon:
        return None
    significant = forecast.eta_high_days is not None
    severity = Severity.WARNING if eta <= warning_within and significant else Severity.INFO
    return AlertCandidate(
        alertname=ALERTNAME,
        severity=severity,
        labels={"alertname": ALERTNAME, "model_id": model_id, "metric": forecast.metric, "source": "reporting"},
        annotations={
            "summary": forecast.message,
            "expected_at": forecast.at.isoformat(),
            "threshold": f"{forecast.threshold:g}",
        },
        value=forecast.eta_days,
    )


def fingerprint(labels: dict[str, str]) -> str:
    """Stable 16-hex-digit fingerprint of a label set (order-independent)."""
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_alert_event(candidate: AlertCandidate, now: datetime) -> AlertEvent:
    """A ``firing`` alert event the reporting service may publish on ``topics.ALERTS``."""
    return AlertEvent(
        model_id=candidate.labels["model_id"],
        occurred_at=now,
        fingerprint=fingerprint(candidate.labels),
        alertname=candidate.alertname,
        status="firing",
        severity=candidate.severity,
        labels=candidate.labels,
        annotations=candidate.annotations,
        starts_at=now,
        value=candidate.value,
    )
