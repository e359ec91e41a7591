"""Redis persistence of the alerting state, written in one transaction per step so kill -9 loses nothing.

Keys (``P`` = ``<MLMON_REDIS_KEY_PREFIX>alerting:``)::

    P states        hash  fingerprint -> alert state (JSON)        } written where they changed,
    P groups        hash  group key -> aggregation group (JSON)    } together with the event ids consumed,
    P books         hash  receiver|period -> digest book (JSON)    } the alert events to publish and the
    P seen:<id>     str   a consumed event id (TTL)                } outbox records, in one MULTI/EXEC
    P events        hash  event_id -> AlertEvent not yet acknowledged by the broker
    P silences      hash  silence id -> silence (JSON)
    P outbox...     the durable outbox (:mod:`mlmon_alerting.notify.queue`)

A step that fails half-way leaves Redis as it was before it; the engine then reloads its in-memory copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis

from mlmon_alerting.notify.outbox import OutboxRecord
from mlmon_alerting.notify.queue import OutboxQueue
from mlmon_alerting.silences import Silence
from mlmon_common.events import AlertEvent
from mlmon_common.store import retryable

SECTIONS = ("states", "groups", "books")


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class AlertStore:
    """The engine's view of Redis: load everything at start, then commit diffs."""

    def __init__(self, client: redis.Redis, key_prefix: str, seen_ttl_s: int = 3600) -> None:
        self.r = client
        self.p = f"{key_prefix}alerting:"
        self.seen_ttl_s = seen_ttl_s
        self.outbox = OutboxQueue(client, self.p + "outbox")

    # -- loading ---------------------------------------------------------------------------------------

    @retryable
    def load(self) -> dict[str, dict[str, Any]]:
        """``{"states": {...}, "groups": {...}, "books": {...}}`` as last committed."""
        out: dict[str, dict[str, Any]] = {}
        for name in SECTIONS:
            raw = self.r.hgetall(self.p + name)
            out[name] = {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}
        return out

    @retryable
    def unseen(self, event_ids: Sequence[str]) -> list[bool]:
        """For each id: True if no committed step consumed it yet."""
        if not event_ids:
            return []
        found = self.r.mget([self.p + "seen:" + i for i in event_ids])
        return [v is None for v in found]

    # -- committing ------------------------------------------------------------------------------------

    @retryable
    def commit(
        self,
        changes: Mapping[str, Mapping[str, Any | None]],
        *,
        seen: Iterable[str] = (),
        events: Sequence[AlertEvent] = (),
        records: Sequence[OutboxRecord] = (),
    ) -> int:
        """Write ``changes`` (section -> key -> value, ``None`` deletes), the consumed ids, the events and
        the outbox records in one transaction; returns the number of new outbox records."""
        pipe = self.r.pipeline(transaction=True)
        for name, entries in changes.items():
            assert name in SECTIONS, name
            put = {k: _dump(v) for k, v in entries.items() if v is not None}
            gone = [k for k, v in entries.items() if v is None]
            if put:
                pipe.hset(self.p + name, mapping=put)  # type: ignore[arg-type]
            if gone:
                pipe.hdel(self.p + name, *gone)
        for event_id in seen:
            pipe.set(self.p + "seen:" + event_id, b"1", ex=self.seen_ttl_s)
        if events:
            pipe.hset(self.p + "events", mapping={e.event_id: e.to_json() for e in events})
        for record in records:
            self.outbox.put(record, pipe)
        if not len(pipe):
            return 0
        results = pipe.execute()
        return sum(1 for r in results[len(results) - len(records) :] if r == 1) if records else 0

    # -- alert events not yet on Kafka -------------------------------------------------------------------

    @retryable
    def unpublished(self) -> list[AlertEvent]:
        raw = self.r.hgetall(self.p + "events")
        events = [AlertEvent.model_validate_json(v) for v in raw.values()]
        return sorted(events, key=lambda e: e.occurred_at)

    @retryable
    def published(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self.r.hdel(self.p + "events", *event_ids)

    # -- silences --------------------------------------------------------------------------------------

    @retryable
    def silences(self) -> list[Silence]:
        raw = self.r.hgetall(self.p + "silences")
        return sorted((Silence.model_validate_json(v) for v in raw.values()), key=lambda s: s.starts_at)

    @retryable
    def put_silence(self, silence: Silence) -> None:
        self.r.hset(self.p + "silences", silence.id, silence.model_dump_json())
