"""The reporting time-series store on Redis: the key layout of ``timeseries`` (see its docstring).

One batch of events costs two round trips: a read pipeline (the buckets the points land in, the known
series per model, the dedupe sets of merged events, the current alert states) and one ``MULTI``/``EXEC``
transaction writing everything (buckets, ``EXPIREAT``, series index, dirty rollup marks, dedupe marks,
event logs). Either the whole batch is stored or nothing is, so a retried batch recomputes from what is
really there. Read-modify-write is safe because one consumer owns a model's partition (records are keyed
by ``model_id``); the store therefore needs a single Redis (or one Cluster slot per model: hash tags).

* Metrics windows replace their bucket (the bucket's newest window wins, and of one window its newest
  ``revision``): redelivery is harmless.
* Merged events (resources, drift, alerts, maintenance) are deduped by ``event_id`` in the set
  ``seen_key(model, hour)``, expiring with the dedupe window.
* Points older than the raw retention are dropped (counted in ``WriteResult.too_old``).
* The rollup timer (:meth:`RedisSeriesStore.flush_rollups`) rebuilds the 1-h buckets marked dirty;
  a read at rollup resolution flushes that model first, so queries never see stale rollups.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import redis

from mlmon_common.events import AlertEvent, Envelope, MetricsEvent, utcnow
from mlmon_common.store import retryable
from mlmon_reporting.api_shapes import SeriesData
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.event_log import EventLog
from mlmon_reporting.event_points import points_from_event
from mlmon_reporting.timeseries import (
    MODELS_KEY,
    Agg,
    Point,
    Resolution,
    admit_series,
    apply,
    as_text,
    bucket_start,
    chunk_keys,
    columns,
    decode_bucket,
    dirty_key,
    dirty_member,
    models_dirty_key,
    parse_dirty,
    raw_key,
    resolutions,
    rollup,
    seen_key,
    series_key,
    ttl_s,
)

logger = logging.getLogger(__name__)
ROLLUP_BATCH = 500


@dataclass
class WriteResult:
    fresh: list[Envelope] = field(default_factory=list)  # events not seen before (metrics: always)
    duplicates: int = 0
    buckets: int = 0
    too_old: int = 0
    refused_series: int = 0


class RedisSeriesStore:
    """Implements ``monitor.SeriesReader`` over Redis, and the ingest of event batches."""

    def __init__(
        self,
        client: redis.Redis,
        key_prefix: str,
        config: ReportingConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.r = client
        self.p = key_prefix
        self.config = config or ReportingConfig()
        self.raw, self.roll = resolutions(self.config.retention)
        self.max_series = self.config.retention.max_series_per_model
        self.dedupe_s = self.config.logs.dedupe_window_h * 3600
        self.clock = clock
        self.log = EventLog(client, key_prefix, self.config.logs)

    # -- ingest ------------------------------------------------------------------------------------------

    @retryable
    def write_events(self, events: Sequence[Envelope]) -> WriteResult:
        """Store one batch (idempotent); returns which events were new."""
        out = WriteResult()
        merged = [ev for ev in events if not isinstance(ev, MetricsEvent) and points_from_event(ev)]
        alerts = [ev for ev in events if isinstance(ev, AlertEvent)]
        points = {ev.event_id: points_from_event(ev) for ev in events}
        models = sorted({ev.model_id for ev in events})
        cells = sorted({self._cell(p) for pts in points.values() for p in pts})

        read = self.r.pipeline(transaction=False)
        for ev in merged:
            read.sismember(self._seen(ev), ev.event_id)
        for m in models:
            read.hkeys(self.p + series_key(m))
        read.hmget(self.p + MODELS_KEY, models or ["-"])
        for key, fld in cells:
            read.hget(key, fld)
        self.log.queue_state_reads(read, alerts)
        res = read.execute()

        seen = dict(zip((ev.event_id for ev in merged), res[: len(merged)], strict=True))
        pos = len(merged)
        known = {m: {k.decode() for k in res[pos + i]} for i, m in enumerate(models)}
        pos += len(models)
        last_seen = {m: float(v) if v else 0.0 for m, v in zip(models, res[pos], strict=True)}
        pos += 1
        state: dict[tuple[str, str], Agg | None] = {
            c: Agg.decode(v) if v else None for c, v in zip(cells, res[pos : pos + len(cells)], strict=True)
        }
        current_alerts = res[pos + len(cells)]

        changed: set[tuple[str, str]] = set()
        new_series: dict[str, dict[str, float]] = defaultdict(dict)
        dirty: dict[str, set[str]] = defaultdict(set)
        fresh_merged: list[Envelope] = []
        done: set[str] = set()
        oldest = self.clock().timestamp() - self.raw.retention_s
        for ev in events:
            if ev.event_id in done or seen.get(ev.event_id):
                out.duplicates += 1
                continue
            done.add(ev.event_id)
            out.fresh.append(ev)
            if not isinstance(ev, MetricsEvent):
                fresh_merged.append(ev)
            for p in points[ev.event_id]:
                if p.ts.timestamp() < oldest:
                    out.too_old += 1
                    continue
                names = known[p.model_id]
                if not admit_series(len(names), p.series not in names, self.max_series):
                    out.refused_series += 1
                    continue
                names.add(p.series)
                cell = self._cell(p)
                new = apply(state[cell], p)
                if new is None:
                    continue
                state[cell] = new
                changed.add(cell)
                ts = p.ts.timestamp()
                new_series[p.model_id][p.series] = max(ts, new_series[p.model_id].get(p.series, 0.0))
                last_seen[p.model_id] = max(last_seen[p.model_id], ts)
                dirty[p.model_id].add(dirty_member(p, self.roll))

        tx = self.r.pipeline(transaction=True)
        for key, fld in sorted(changed):
            agg = state[(key, fld)]
            assert agg is not None
            tx.hset(key, fld, agg.encode(int(fld)))
        for key in {k for k, _ in changed}:
            tx.expireat(key, int(key.rsplit(":", 1)[1]) + ttl_s(self.raw))
        for m, series in new_series.items():
            tx.hset(self.p + series_key(m), mapping=dict(series.items()))
            tx.hset(self.p + MODELS_KEY, m, last_seen[m])
        for m, members in dirty.items():
            tx.sadd(self.p + dirty_key(m), *members)
            tx.sadd(self.p + models_dirty_key(), m)
        for ev in fresh_merged:
            key = self._seen(ev)
            tx.sadd(key, ev.event_id)
            tx.expireat(key, int(ev.occurred_at.timestamp()) // 3600 * 3600 + 3600 + self.dedupe_s)
        self.log.queue_writes(tx, out.fresh, alerts, current_alerts)
        tx.execute()
        out.buckets = len(changed)
        return out

    def _cell(self, p: Point) -> tuple[str, str]:
        bucket = bucket_start(p.ts, self.raw)
        return self.p + raw_key(p.model_id, p.series, self.raw, bucket), str(bucket)

    def _seen(self, ev: Envelope) -> str:
        return self.p + seen_key(ev.model_id, int(ev.occurred_at.timestamp()) // 3600 * 3600)

    # -- rollups -------------------------------------------------------------------------------------------

    @retryable
    def flush_rollups(self, model_id: str | None = None) -> int:
        """Rebuild the rollup buckets marked dirty (one model, or every model with marks)."""
        marked = self.r.smembers(self.p + models_dirty_key()) if model_id is None else [model_id.encode()]
        models = [as_text(m) for m in marked]
        done = 0
        for m in models:
            while True:
                members = self.r.spop(self.p + dirty_key(m), ROLLUP_BATCH)
                if not members:
                    break
                try:
                    self._rebuild(m, [parse_dirty(as_text(x)) for x in members])
                except Exception:
                    self.r.sadd(self.p + dirty_key(m), *members)  # keep the marks for the next tick
                    raise
                done += len(members)
            if model_id is None:
                self.r.srem(self.p + models_dirty_key(), m)
                if self.r.scard(self.p + dirty_key(m)):  # a writer marked it meanwhile
                    self.r.sadd(self.p + models_dirty_key(), m)
        return done

    def _rebuild(self, model_id: str, marks: list[tuple[str, int]]) -> None:
        read = self.r.pipeline(transaction=False)
        spans = []
        for series, start in marks:
            first = start // self.raw.chunk_s * self.raw.chunk_s
            chunks = range(first, start + self.roll.step_s, self.raw.chunk_s)
            for c in chunks:
                read.hvals(self.p + raw_key(model_id, series, self.raw, c))
            spans.append(len(chunks))
        results = read.execute()
        write = self.r.pipeline(transaction=False)
        pos = 0
        for (series, start), n in zip(marks, spans, strict=True):
            hi = start + self.roll.step_s
            buckets = sorted(decode_bucket(v) for chunk in results[pos : pos + n] for v in chunk)
            pos += n
            agg = rollup(a for t, a in buckets if start <= t < hi)
            if agg is None:
                continue
            key = self.p + raw_key(model_id, series, self.roll, start)
            write.hset(key, str(start), agg.encode(start))
            write.expireat(key, start // self.roll.chunk_s * self.roll.chunk_s + ttl_s(self.roll))
        write.execute()

    # -- reads (monitor.SeriesReader) ----------------------------------------------------------------------

    @retryable
    def models(self) -> dict[str, float]:
        """model_id -> last seen (epoch seconds)."""
        return {as_text(k): float(v) for k, v in self.r.hgetall(self.p + MODELS_KEY).items()}

    @retryable
    def series_names(self, model_id: str) -> list[str]:
        return sorted(as_text(k) for k in self.r.hkeys(self.p + series_key(model_id)))

    @retryable
    def read_series(self, model_id: str, series: str, res: Resolution, start: datetime, end: datetime) -> SeriesData:
        return self.read_many(model_id, [series], res, start, end)[series]

    @retryable
    def read_many(
        self, model_id: str, series: Sequence[str], res: Resolution, start: datetime, end: datetime
    ) -> dict[str, SeriesData]:
        """Several series in one pipeline (HVALS of every chunk overlapping ``[start, end)``)."""
        if res == self.roll:
            self.flush_rollups(model_id)
        pipe = self.r.pipeline(transaction=False)
        spans = []
        for name in series:
            keys = chunk_keys(model_id, name, res, start, end)
            for key in keys:
                pipe.hvals(self.p + key)
            spans.append(len(keys))
        results = pipe.execute()
        out, pos = {}, 0
        for name, n in zip(series, spans, strict=True):
            out[name] = columns(results[pos : pos + n], start, end, res)
            pos += n
        return out
