"""Forecast alerts: a timer runs ``analyze_trends`` per model and publishes threshold-crossing forecasts on
``mlmon.alerts.v1`` as info/warning ``MetricForecastCrossing`` alerts.

Deduped by state: the active forecasts live in the Redis hash ``mlmon:forecasts:v1:active``
(fingerprint -> severity). An alert is published when a forecast appears or changes severity, and a
``resolved`` one when it disappears; an unchanged forecast publishes nothing. The hash is written only
after the producer's deliveries are acknowledged, so a crash re-publishes rather than loses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from mlmon_common import topics
from mlmon_common.errors import RetryableError
from mlmon_common.events import AlertEvent, Severity, utcnow
from mlmon_common.kafka import EventProducer
from mlmon_common.store import retryable
from mlmon_reporting.forecast_alerts import AlertCandidate, fingerprint, forecast_alert, to_alert_event
from mlmon_reporting.monitor import PerformanceMonitor
from mlmon_reporting.redis_store import RedisSeriesStore
from mlmon_reporting.reports import TREND_SERIES
from mlmon_reporting.timeframe import parse_duration
from mlmon_reporting.timeseries import as_text
from mlmon_reporting.trends import analyze_trends

logger = logging.getLogger(__name__)
ACTIVE = "mlmon:forecasts:v1:active"


class Forecaster:
    def __init__(
        self, store: RedisSeriesStore, producer: EventProducer, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.producer = producer
        self.clock = clock
        cfg = store.config
        self.window = cfg.trend_window
        self.warning_within = parse_duration(cfg.forecast_warning_within, field="forecast_warning_within")
        self.horizon = parse_duration(cfg.forecast_horizon, field="forecast_horizon")
        self.key = store.p + ACTIVE

    def candidates(self, now: datetime) -> dict[str, AlertCandidate]:
        """fingerprint -> candidate for every model's current forecasts."""
        monitor = PerformanceMonitor(self.store, self.store.config, clock=lambda: now)
        out = {}
        for model_id in self.store.models():
            resp = monitor.monitor_metrics(model_id, self.window, series=TREND_SERIES)
            thresholds = self.store.config.thresholds_for(model_id)
            for trend in analyze_trends(resp, self.window, now=now, thresholds=thresholds).values():
                if trend.forecast is None:
                    continue
                cand = forecast_alert(
                    model_id, trend.forecast, warning_within=self.warning_within, horizon=self.horizon
                )
                if cand is not None:
                    out[fingerprint(cand.labels)] = cand
        return out

    @retryable
    def run(self) -> list[AlertEvent]:
        """One tick: publish new/changed/ended forecasts; returns the events sent."""
        now = self.clock()
        active = {as_text(k): as_text(v) for k, v in self.store.r.hgetall(self.key).items()}
        current = self.candidates(now)
        sent: list[AlertEvent] = []
        for fp, cand in current.items():
            if active.get(fp) != cand.severity.name:
                sent.append(to_alert_event(cand, now))
        for fp, severity in active.items():
            if fp not in current:
                raw = self.store.r.hget(self.key + ":labels", fp)
                sent.append(_resolved(fp, severity, now, as_text(raw) if raw is not None else None))
        if not sent:
            return []
        for ev in sent:
            self.producer.send(topics.ALERTS.name, ev)
        if self.producer.flush(30.0) or self.producer.take_failures():
            raise RetryableError("forecast alerts not acknowledged by the broker")
        pipe = self.store.r.pipeline(transaction=True)
        for ev in sent:
            if ev.status == "firing":
                pipe.hset(self.key, ev.fingerprint, ev.severity.name)
                pipe.hset(self.key + ":labels", ev.fingerprint, _encode_labels(ev.labels))
            else:
                pipe.hdel(self.key, ev.fingerprint)
                pipe.hdel(self.key + ":labels", ev.fingerprint)
        pipe.execute()
        logger.info("forecast alerts published", extra={"count": len(sent)})
        return sent


def _encode_labels(labels: dict[str, str]) -> str:
    return "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(labels.items()))


def _resolved(fp: str, severity: str, now: datetime, raw_labels: str | None) -> AlertEvent:
    labels = dict(p.split("\x1e", 1) for p in raw_labels.split("\x1f")) if raw_labels else {}
    return AlertEvent(
        model_id=labels.get("model_id", "unknown"),
        occurred_at=now,
        fingerprint=fp,
        alertname=labels.get("alertname", "MetricForecastCrossing"),
        status="resolved",
        severity=Severity[severity],
        labels=labels,
        annotations={"summary": "forecast no longer predicts a threshold crossing"},
        starts_at=now,
        ends_at=now,
    )
