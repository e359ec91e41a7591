"""Event logs and alert state kept in Redis for the alerts view, maintenance history and reports.

Key layout (after ``settings.redis.key_prefix``; ``{<model>}`` is the same hash tag as the series keys)::

    mlmon:ts:v1:{<model>}:log:<kind>     ZSET  event JSON -> occurred_at (kind: alert, drift, maintenance)
    mlmon:ts:v1:{<model>}:alerts         ZSET  fingerprint -> occurred_at of its latest event
    mlmon:ts:v1:alerts:state             HASH  fingerprint -> latest AlertEvent JSON
    mlmon:ts:v1:alerts:index             ZSET  fingerprint -> occurred_at of its latest event

Writes are idempotent without any dedupe: a redelivered event is the same ZSET member (its JSON carries
its ``event_id``), and an alert state is replaced only by an event at least as recent. Logs are capped by
count (``ZREMRANGEBYRANK``) on every write and by age (``EXPIRE`` and the prune timer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

import redis

from mlmon_common.events import AlertEvent, DriftEvent, Envelope, MaintenanceEvent, decode_event
from mlmon_common.store import retryable
from mlmon_reporting.api_shapes import AlertView, HistoryItem
from mlmon_reporting.config import Logs
from mlmon_reporting.timeseries import PREFIX, as_text, encode_part as _enc

LogKind = Literal["alert", "drift", "maintenance"]
KINDS: dict[type[Envelope], LogKind] = {AlertEvent: "alert", DriftEvent: "drift", MaintenanceEvent: "maintenance"}
ALERT_STATE = f"{PREFIX}:alerts:state"
ALERT_INDEX = f"{PREFIX}:alerts:index"


def log_key(model_id: str, kind: LogKind) -> str:
    return f"{PREFIX}:{{{_enc(model_id)}}}:log:{kind}"


def model_alerts_key(model_id: str) -> str:
    return f"{PREFIX}:{{{_enc(model_id)}}}:alerts"


def alert_view(ev: AlertEvent) -> AlertView:
    return AlertView(
        fingerprint=ev.fingerprint,
        model_id=ev.model_id,
        alertname=ev.alertname,
        status=ev.status,
        severity=ev.severity,
        summary=ev.annotations.get("summary", ""),
        labels=ev.labels,
        starts_at=ev.starts_at,
        ends_at=ev.ends_at,
        value=ev.value,
        acknowledged_by=ev.acknowledged_by,
    )


class EventLog:
    """Reads and writes of the logs; ``queue_*`` add commands to the caller's pipelines (one round trip)."""

    def __init__(self, client: redis.Redis, key_prefix: str, logs: Logs) -> None:
        self.r = client
        self.p = key_prefix
        self.logs = logs

    # -- writes (queued on the ingest pipelines) --------------------------------------------------------

    def queue_state_reads(self, pipe: redis.client.Pipeline, alerts: Sequence[AlertEvent]) -> None:
        """One HMGET of the current states of ``alerts`` (result: list of JSON or None)."""
        pipe.hmget(self.p + ALERT_STATE, [a.fingerprint for a in alerts] or ["-"])

    def queue_writes(
        self,
        pipe: redis.client.Pipeline,
        events: Iterable[Envelope],
        alerts: Sequence[AlertEvent],
        current: Sequence[bytes | None],
    ) -> None:
        """Log every alert/drift/maintenance event; replace alert states by newer events."""
        touched: set[str] = set()
        for ev in events:
            kind = KINDS.get(type(ev))
            if kind is None:
                continue
            key = self.p + log_key(ev.model_id, kind)
            pipe.zadd(key, {ev.to_json(): ev.occurred_at.timestamp()})
            touched.add(key)
        newest: dict[str, AlertEvent] = {}
        for ev, raw in zip(alerts, current, strict=False):
            old = newest.get(ev.fingerprint)
            if old is None and raw is not None:
                decoded = decode_event(raw)
                old = decoded if isinstance(decoded, AlertEvent) else None
            if old is None or ev.occurred_at >= old.occurred_at:
                newest[ev.fingerprint] = ev
        for fp, ev in newest.items():
            ts = ev.occurred_at.timestamp()
            pipe.hset(self.p + ALERT_STATE, fp, ev.to_json())
            pipe.zadd(self.p + ALERT_INDEX, {fp: ts})
            mkey = self.p + model_alerts_key(ev.model_id)
            pipe.zadd(mkey, {fp: ts})
            touched.add(mkey)
        ttl = self.logs.retention_d * 86400
        for key in touched:
            pipe.zremrangebyrank(key, 0, -(self.logs.max_events_per_model + 1))
            pipe.expire(key, ttl)

    # -- reads ------------------------------------------------------------------------------------------

    @retryable
    def alerts(self, model_id: str | None = None, status: str | None = None, limit: int = 500) -> list[AlertView]:
        """Latest state per fingerprint, most recently changed first."""
        index = self.p + (model_alerts_key(model_id) if model_id else ALERT_INDEX)
        fps = self.r.zrevrange(index, 0, max(limit * 4, 1000) - 1)
        if not fps:
            return []
        views = []
        for raw in self.r.hmget(self.p + ALERT_STATE, [as_text(f) for f in fps]):
            if raw is None:
                continue
            ev = decode_event(raw)
            if isinstance(ev, AlertEvent) and (status is None or ev.status == status):
                views.append(alert_view(ev))
        return views[:limit]

    @retryable
    def events(self, model_id: str, kind: LogKind, start: datetime, end: datetime) -> list[Envelope]:
        """Logged events with ``start <= occurred_at < end``, oldest first."""
        raws = self.r.zrangebyscore(self.p + log_key(model_id, kind), start.timestamp(), f"({end.timestamp()}")
        return [decode_event(as_text(r)) for r in raws]

    @retryable
    def history(self, model_id: str, limit: int = 200) -> list[HistoryItem]:
        """Maintenance transitions of ``model_id``, newest first."""
        raws = self.r.zrevrange(self.p + log_key(model_id, "maintenance"), 0, limit - 1)
        out = []
        for raw in raws:
            ev = decode_event(as_text(raw))
            if isinstance(ev, MaintenanceEvent):
                out.append(
                    HistoryItem(
                        plan_id=ev.plan_id,
                        state=ev.state,
                        at=ev.occurred_at,
                        actions=ev.actions,
                        reason=ev.reason,
                        actor=ev.actor,
                    )
                )
        return out

    @retryable
    def prune(self, now: datetime, models: Iterable[str]) -> int:
        """Drop alert states and log entries older than the log retention; returns entries removed."""
        cutoff = now.timestamp() - self.logs.retention_d * 86400
        old = self.r.zrangebyscore(self.p + ALERT_INDEX, "-inf", cutoff)
        pipe = self.r.pipeline(transaction=False)
        if old:
            pipe.hdel(self.p + ALERT_STATE, *old)
            pipe.zrem(self.p + ALERT_INDEX, *old)
        for model in models:
            pipe.zremrangebyscore(self.p + model_alerts_key(model), "-inf", cutoff)
            for kind in KINDS.values():
                pipe.zremrangebyscore(self.p + log_key(model, kind), "-inf", cutoff)
        removed = pipe.execute()
        return sum(int(x) for x in removed[2 if old else 0 :] if isinstance(x, int)) + len(old)
