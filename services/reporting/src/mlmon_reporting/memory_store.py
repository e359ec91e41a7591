"""An in-memory series store with the Redis layout of ``timeseries`` (tests, benchmarks, embedded demo).

It keeps hashes exactly as Redis would (key -> field -> packed ``Agg`` record), so the Redis-backed store
the service uses must give the same answers.

>>> from datetime import UTC, datetime
>>> store = InMemorySeriesStore()
>>> t = datetime(2026, 1, 1, 12, tzinfo=UTC)
>>> store.write(Point("m", "accuracy", t, 0.9)), store.write(Point("m", "accuracy", t, 1.0))
(True, True)
>>> store.read("m", "accuracy", RAW, t, t.replace(hour=13))[0][1].mean
0.95
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from mlmon_common.events import Envelope
from mlmon_reporting.api_shapes import SeriesData
from mlmon_reporting.event_points import points_from_event
from mlmon_reporting.timeseries import (
    RAW,
    ROLLUP,
    Agg,
    Bucket,
    Point,
    Resolution,
    admit_series,
    apply,
    bucket_start,
    chunk_keys,
    columns,
    decode_bucket,
    decode_chunk,
    dirty_member,
    parse_dirty,
    raw_key,
    rollup,
    ttl_s,
)


class InMemorySeriesStore:
    """Implements ``monitor.SeriesReader``; writes through the pure functions of ``timeseries``."""

    def __init__(self, raw: Resolution = RAW, roll: Resolution = ROLLUP, max_series: int = 300) -> None:
        self.raw = raw
        self.roll = roll
        self.max_series = max_series
        self.hashes: dict[str, dict[str, bytes]] = defaultdict(dict)
        self.expiry: dict[str, float] = {}
        self._series: dict[str, dict[str, float]] = defaultdict(dict)
        self._dirty: dict[str, set[str]] = defaultdict(set)

    def ingest(self, event: Envelope) -> int:
        """Write every point of one event; returns how many buckets changed."""
        return sum(self.write(p) for p in points_from_event(event))

    def write(self, point: Point) -> bool:
        known = self._series[point.model_id]
        if not admit_series(len(known), point.series not in known, self.max_series):
            return False
        bucket = bucket_start(point.ts, self.raw)
        key = raw_key(point.model_id, point.series, self.raw, bucket)
        old_raw = self.hashes[key].get(str(bucket))
        new = apply(Agg.decode(old_raw) if old_raw else None, point)
        if new is None:
            return False
        self.hashes[key][str(bucket)] = new.encode(bucket)
        self.expiry[key] = bucket + ttl_s(self.raw)
        known[point.series] = max(known.get(point.series, 0.0), point.ts.timestamp())
        self._dirty[point.model_id].add(dirty_member(point, self.roll))
        return True

    def flush_rollups(self, model_id: str) -> int:
        """Rebuild the rollup buckets marked dirty (the service does this on a timer)."""
        members = self._dirty.pop(model_id, set())
        for member in members:
            series, start = parse_dirty(member)
            minutes = [agg for _, agg in self._read(model_id, series, self.raw, start, start + self.roll.step_s)]
            agg = rollup(minutes)
            if agg is not None:
                key = raw_key(model_id, series, self.roll, start)
                self.hashes[key][str(start)] = agg.encode(start)
                self.expiry[key] = start + ttl_s(self.roll)
        return len(members)

    def expire(self, now: datetime) -> int:
        """Drop keys past their TTL, as Redis would."""
        dead = [k for k, at in self.expiry.items() if at <= now.timestamp()]
        for key in dead:
            del self.hashes[key], self.expiry[key]
        return len(dead)

    def models(self) -> list[str]:
        return sorted(self._series)

    def series_names(self, model_id: str) -> list[str]:
        return sorted(self._series.get(model_id, {}))

    def last_seen(self, model_id: str) -> float | None:
        seen = self._series.get(model_id)
        return max(seen.values()) if seen else None

    def read(self, model_id: str, series: str, res: Resolution, start: datetime, end: datetime) -> list[Bucket]:
        if res == self.roll:
            self.flush_rollups(model_id)
        out: list[Bucket] = []
        for key in chunk_keys(model_id, series, res, start, end):
            out.extend(decode_chunk(self.hashes.get(key, {}).values(), start, end, res))
        return out

    def read_series(self, model_id: str, series: str, res: Resolution, start: datetime, end: datetime) -> SeriesData:
        if res == self.roll:
            self.flush_rollups(model_id)
        keys = chunk_keys(model_id, series, res, start, end)
        return columns([list(self.hashes.get(k, {}).values()) for k in keys], start, end, res)

    def _read(self, model_id: str, series: str, res: Resolution, lo: int, hi: int) -> list[Bucket]:
        out: list[Bucket] = []
        for c in range(lo // res.chunk_s * res.chunk_s, hi, res.chunk_s):
            out.extend(decode_bucket(v) for v in self.hashes.get(raw_key(model_id, series, res, c), {}).values())
        return sorted(b for b in out if lo <= b[0] < hi)

    def memory_bytes(self) -> int:
        """Bytes of keys, fields and values (a lower bound of Redis memory; no per-key overhead)."""
        return sum(len(k) + sum(len(f) + len(v) for f, v in h.items()) for k, h in self.hashes.items())
