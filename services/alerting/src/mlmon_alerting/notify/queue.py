"""The durable outbox in Redis: put once by idempotency key, claim atomically, complete atomically.

Keys (``O`` = ``<prefix>alerting:outbox``)::

    O               hash  record key -> OutboxRecord JSON (the record's current state)
    O:due           zset  pending record key -> when it may be attempted (epoch seconds)
    O:lane:<lane>   list  pending record keys of one (receiver, group, integration) in creation order
    O:done          zset  delivered record key -> delivery time (pruned after the retention)
    O:failed        zset  failed record key -> when it was given up
    O:delivered     int   delivered records, ever
    O:lease         hash  claimed record key -> token of its current claim

- :meth:`put` writes a record only if its key is new (``HSETNX``): a replayed batch or a re-computed
  flush adds nothing, and a delivered record is never re-queued.
- :meth:`claim` takes a due record that heads its lane and pushes its due time out by a lease, in one
  script: two workers never send the same record, and a firing and its resolve leave in order. Each
  claim gets a fresh token (``O:lease``, and :attr:`OutboxRecord.lease` of the copy it returns).
- :meth:`complete` stores the attempt's outcome (delivered / retry at ``next_attempt_at`` / failed) and
  frees the lane, in one script. An outcome may arrive late (the worker keeps it in memory while Redis
  is away, see :mod:`mlmon_alerting.notify.worker`), after the lease expired and the record was claimed
  again, so precedence is by what the outcome says, not by who holds the lease: ``delivered`` always
  wins (the receiver has it; it also replaces a ``failed`` given up by a later claim), ``failed``
  overwrites only a pending record, and a retry is stored only by the claim that still holds the lease
  (a stale retry must not pull the due time of a newer claim forward). A delivered record is never
  overwritten.
A sender killed between the receiver's ``200`` and :meth:`complete` re-sends after the lease: the one
window of at-least-once, which receivers close with the ``Idempotency-Key`` header / ``Message-ID``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import redis

from mlmon_alerting.notify.outbox import OutboxRecord
from mlmon_common.store import retryable

_PUT = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  if ARGV[4] ~= '' then redis.call('RPUSH', ARGV[4], ARGV[1]) end
  return 1
end
return 0
"""

_CLAIM = """
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return false end
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
local lane = cjson.decode(rec)['lane']
if lane and lane ~= '' then
  local head = redis.call('LINDEX', ARGV[4] .. lane, 0)
  if head and head ~= ARGV[1] then
    local hs = redis.call('ZSCORE', KEYS[2], head)
    local later = tonumber(ARGV[2]) + tonumber(ARGV[5])
    if hs and tonumber(hs) > later then later = tonumber(hs) end
    redis.call('ZADD', KEYS[2], later, ARGV[1])
    return false
  end
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[6])
return rec
"""

_COMPLETE = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local status = cjson.decode(cur)['status']
  if status == 'delivered' or (status == 'failed' and ARGV[3] ~= 'delivered') then return 0 end
end
if ARGV[3] == 'pending' and redis.call('HGET', KEYS[6], ARGV[1]) ~= ARGV[7] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[6], ARGV[1])
if ARGV[3] == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  return 1
end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[6] ~= '' then redis.call('LREM', ARGV[6], 1, ARGV[1]) end
if ARGV[3] == 'failed' then
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  redis.call('INCR', KEYS[5])
end
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class OutboxQueue:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self.r = client
        self.key = key
        self.due_key = key + ":due"
        self.done_key = key + ":done"
        self.failed_key = key + ":failed"
        self.count_key = key + ":delivered"
        self.lane_prefix = key + ":lane:"
        self.lease_key = key + ":lease"
        self._put = client.register_script(_PUT)
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)

    def _lane(self, record: OutboxRecord) -> str:
        return self.lane_prefix + record.lane if record.lane else ""

    def put(self, record: OutboxRecord, pipe: Any = None) -> Any:
        """Queue ``record`` unless its key exists (1 = queued, 0 = already known); ``pipe``: in a transaction."""
        args: list[Any] = [record.key, record.model_dump_json(), record.next_attempt_at.timestamp(), self._lane(record)]
        return self._put(keys=[self.key, self.due_key], args=args, client=pipe or self.r)

    @retryable
    def due(self, now: datetime, limit: int = 50) -> list[str]:
        keys = self.r.zrangebyscore(self.due_key, "-inf", now.timestamp(), start=0, num=limit)
        return [_text(k) for k in keys]

    @retryable
    def next_due(self) -> float | None:
        first = self.r.zrange(self.due_key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    @retryable
    def claim(self, key: str, now: datetime, lease_s: float, retry_s: float = 0.2) -> OutboxRecord | None:
        """Take ``key`` if it is due and heads its lane (its due time moves ``lease_s`` ahead).

        The returned copy carries the claim's token in ``lease``; only that claim may store a retry.
        """
        ts = now.timestamp()
        token = uuid.uuid4().hex
        keys = [self.key, self.due_key, self.lease_key]
        raw = self._claim(keys=keys, args=[key, ts, ts + lease_s, self.lane_prefix, retry_s, token])
        return OutboxRecord.model_validate_json(raw).model_copy(update={"lease": token}) if raw else None

    @retryable
    def complete(self, record: OutboxRecord, now: datetime) -> bool:
        """Store the outcome of an attempt; False if it lost (see the module docstring): nothing changed.

        Idempotent: storing the same outcome again returns False and changes nothing.
        """
        keys = [self.key, self.due_key, self.done_key, self.failed_key, self.count_key, self.lease_key]
        args: list[Any] = [
            record.key,
            record.model_dump_json(),
            record.status,
            record.next_attempt_at.timestamp(),
            now.timestamp(),
            self._lane(record),
            record.lease,
        ]
        return bool(self._complete(keys=keys, args=args))

    @retryable
    def get(self, key: str) -> OutboxRecord | None:
        raw = self.r.hget(self.key, key)
        return OutboxRecord.model_validate_json(raw) if raw else None

    @retryable
    def counts(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        pipe.zcard(self.due_key)
        pipe.zcard(self.failed_key)
        pipe.get(self.count_key)
        pending, failed, delivered = pipe.execute()
        return {"pending": int(pending), "failed": int(failed), "delivered": int(delivered or 0)}

    @retryable
    def failed(self, limit: int = 50) -> list[OutboxRecord]:
        keys = self.r.zrevrange(self.failed_key, 0, limit - 1)
        if not keys:
            return []
        values: list[Any] = self.r.hmget(self.key, list(keys))  # type: ignore[arg-type]
        return [OutboxRecord.model_validate_json(v) for v in values if v]

    @retryable
    def prune(self, before: datetime, limit: int = 1000) -> int:
        """Forget delivered records completed before ``before`` (their replays are long past)."""
        keys = self.r.zrangebyscore(self.done_key, "-inf", before.timestamp(), start=0, num=limit)
        if keys:
            pipe = self.r.pipeline(transaction=True)
            pipe.hdel(self.key, *keys)
            pipe.zrem(self.done_key, *keys)
            pipe.execute()
        return len(keys)
