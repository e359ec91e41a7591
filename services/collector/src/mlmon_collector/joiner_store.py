"""The late-label join, held in Redis: exactly one outcome per labelled prediction.

Keys (all under ``<prefix>collector:{join}:`` — one hash tag, so a Redis Cluster keeps them in one slot):

``<oid>``     one key per (model, prediction id) (``oid``: its 16-byte BLAKE2b digest), TTL ``ttl_s``. The
              value's first byte is its state: ``P`` + the pending prediction (compact JSON); ``L`` + a
              label that arrived before its prediction; ``C`` + ``<topic>:<partition>:<offset>`` of the
              record that completed the pair + a newline + the other side (claimed, outcome in flight);
              ``D`` (done)
``pending``   sorted set of pending predictions scored by their expiry time (ms): the memory bound
              (``max_pending``, the oldest are evicted) and the expiry count
``stats``     hash of counters: ``outcomes``, ``duplicates``, ``expired``, ``evicted``

One Lua script handles a whole consumer batch atomically in one round trip (a new prediction costs one
``SET NX GET`` and its share of one batched ``ZADD``; Redis >= 7.0). A pair is claimed in its key, so a
duplicated label, a replayed prediction or a second collector process finds the claim and produces
nothing. Only the record that made the claim, seen again before its outcome was confirmed (the batch
failed or the process died before the broker acknowledged it), re-emits the outcome — with the same
deterministic ``event_id``. :meth:`JoinStore.confirm` turns claims into ``D`` after the acknowledgement.
Predictions that reach their TTL unlabelled are counted as ``expired`` (never labelled) by
:meth:`JoinStore.sweep`; evicted ones as ``evicted``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis
from redis.connection import Connection
from redis.exceptions import NoScriptError

from mlmon_collector.join import make_outcome
from mlmon_collector.metrics import Task
from mlmon_common.events import LabelEvent, OutcomeEvent, PredictionEvent
from mlmon_common.store import retryable

logger = logging.getLogger(__name__)

#: What a pending prediction keeps: everything an outcome needs, nothing more (memory per pending).
PENDING_FIELDS = frozenset(
    {"event_id", "occurred_at", "model_id", "prediction_id", "model_version", "features", "prediction"}
    | {"score", "latency_ms", "error"}
)
_INCLUDE = set(PENDING_FIELDS)

_JOIN = """
local base, ttl, deadline, maxp = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local pending, stats = base .. 'pending', base .. 'stats'
local out, added, fresh, dups, n = {}, {}, {}, 0, 0
for i = 5, #ARGV, 4 do
  n = n + 1
  local kind, oid, value, coords = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = base .. oid
  local cur = redis.call('SET', key, value, 'NX', 'PX', ttl, 'GET')
  local status, other = 'wait', ''
  if not cur then
    if kind == 'P' then
      added[#added + 1] = oid
      fresh[oid] = true
    end
  else
    local state = string.sub(cur, 1, 1)
    if state == 'C' then
      local nl = string.find(cur, '\\n', 2, true)
      if string.sub(cur, 2, nl - 1) == coords then
        status, other = 'reemit', string.sub(cur, nl + 1)
      else
        status = 'dup'
      end
    elseif state == 'D' or state == kind then
      status = 'dup'
    else
      other = string.sub(cur, 2)
      redis.call('SET', key, 'C' .. coords .. '\\n' .. other, 'PX', ttl)
      if state == 'P' then
        if fresh[oid] then fresh[oid] = nil else redis.call('ZREM', pending, oid) end
      end
      status = 'match'
    end
  end
  if status ~= 'wait' then
    if status == 'dup' then dups = dups + 1 end
    out[#out + 1] = n
    out[#out + 1] = status
    out[#out + 1] = other
  end
end
local zargs = {}
for _, oid in ipairs(added) do
  if fresh[oid] then
    zargs[#zargs + 1] = deadline
    zargs[#zargs + 1] = oid
  end
end
for j = 1, #zargs, 1000 do
  redis.call('ZADD', pending, unpack(zargs, j, math.min(j + 999, #zargs)))
end
local over = redis.call('ZCARD', pending) - maxp
if over > 0 then
  local victims = redis.call('ZPOPMIN', pending, over)
  for j = 1, #victims, 2 do redis.call('DEL', base .. victims[j]) end
  redis.call('HINCRBY', stats, 'evicted', over)
end
if dups > 0 then redis.call('HINCRBY', stats, 'duplicates', dups) end
return out
"""

_CONFIRM = """
local base, ttl = ARGV[1], ARGV[2]
for i = 3, #ARGV do redis.call('SET', base .. ARGV[i], 'D', 'PX', ttl) end
redis.call('HINCRBY', base .. 'stats', 'outcomes', #ARGV - 2)
return #ARGV - 2
"""

_SWEEP = """
local base, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local pending = base .. 'pending'
local expired = redis.call('ZRANGEBYSCORE', pending, '-inf', now, 'LIMIT', 0, limit)
for _, oid in ipairs(expired) do
  redis.call('DEL', base .. oid)
  redis.call('ZREM', pending, oid)
end
if #expired > 0 then redis.call('HINCRBY', base .. 'stats', 'expired', #expired) end
return #expired
"""


@dataclass
class JoinResult:
    """What one batch produced: outcomes to publish and the claims to confirm once they are acknowledged."""

    outcomes: list[OutcomeEvent] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # the coordinates of the record completing each outcome
    claimed: list[bytes] = field(default_factory=list)
    reemitted: int = 0
    waiting: int = 0
    duplicates: int = 0


JoinInput = PredictionEvent | LabelEvent
#: ``(event, source coordinates)`` or ``(event, source coordinates, stored payload)``.
JoinItem = tuple[JoinInput, str] | tuple[JoinInput, str, bytes]


def join_key(model_id: str, prediction_id: str) -> bytes:
    """The 16-byte id of one (model, prediction) in the join's keys (cheaper than a uuid5, 96+ bits)."""
    return hashlib.blake2b(f"{model_id}\x00{prediction_id}".encode(), digest_size=16).digest()


#: Items per script call: a batch is sent as several calls in one write, so Redis serves other clients
#: between them (a call holds Redis for a few ms) and a large batch never makes one huge script run.
CHUNK = 1000

Chunk = tuple[int, list[str | bytes | int]]  # (index of its first item in the batch, script arguments)


class JoinCall:
    """One batch's join in flight on its own connection: sent at creation, replies read by :meth:`result`."""

    def __init__(self, store: JoinStore, items: Sequence[JoinItem], oids: list[bytes], chunks: list[Chunk]) -> None:
        self._store, self._items, self._oids, self._chunks = store, items, oids, chunks
        self._conn: Connection | None = None
        self._read = False
        if chunks:
            self._conn = store._r.connection_pool.get_connection()
            try:
                sha = store._join.sha
                self._conn.send_packed_command(self._conn.pack_commands([("EVALSHA", sha, 0, *a) for _, a in chunks]))
            except BaseException:
                self.close()
                raise

    @retryable
    def result(self, task_of: Callable[[str], Task]) -> JoinResult:
        if self._conn is None:
            return JoinResult()
        replies: list[list | None] = []
        try:
            for _ in self._chunks:
                try:
                    replies.append(self._conn.read_response())
                except NoScriptError:  # a restarted or flushed Redis: run that call again below
                    replies.append(None)
            self._read = True
        finally:
            self.close()
        for k, reply in enumerate(replies):
            if reply is None:  # redis-py's script call loads the script and retries
                replies[k] = self._store._join(args=self._chunks[k][1])
        merged = [(first, reply) for (first, _), reply in zip(self._chunks, replies, strict=True)]
        return self._store._outcomes(self._items, self._oids, merged, task_of)  # type: ignore[arg-type]

    def close(self) -> None:
        """Give the connection back; dropped if a reply may be unread (never reused half-read)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not self._read:
            conn.disconnect()
        self._store._r.connection_pool.release(conn)


class JoinStore:
    def __init__(
        self,
        client: redis.Redis,
        key_prefix: str,
        *,
        ttl_s: float,
        max_pending: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self._r = client
        self.base = f"{key_prefix}collector:{{join}}:"
        self.ttl_ms = int(ttl_s * 1000)
        self.max_pending = max_pending
        self._clock = clock
        self._join = client.register_script(_JOIN)
        self._confirm = client.register_script(_CONFIRM)
        self._sweep = client.register_script(_SWEEP)

    @staticmethod
    def payload(event: JoinInput) -> bytes:
        """What the join stores for an event (a prediction: only what an outcome needs)."""
        if isinstance(event, PredictionEvent):
            return event.model_dump_json(include=_INCLUDE).encode()
        return event.to_json()

    def process(self, items: Sequence[JoinItem], task_of: Callable[[str], Task]) -> JoinResult:
        """Join a batch of events in order (payload computed when not given); one Redis round trip."""
        call = self.submit(items)
        try:
            return call.result(task_of)
        finally:
            call.close()

    @retryable
    def submit(self, items: Sequence[JoinItem]) -> JoinCall:
        """Send the join of a batch without waiting: :meth:`JoinCall.result` reads the replies (the caller
        works meanwhile); :meth:`JoinCall.close` must follow in every case."""
        now_ms = int(self._clock() * 1000)
        head: list[str | bytes | int] = [self.base, self.ttl_ms, now_ms + self.ttl_ms, self.max_pending]
        oids: list[bytes] = []
        chunks: list[Chunk] = []
        payload_of = self.payload
        for first in range(0, len(items), CHUNK):
            args = head.copy()
            for item in items[first : first + CHUNK]:
                event = item[0]
                oid = join_key(event.model_id, event.prediction_id)
                oids.append(oid)
                payload = item[2] if len(item) == 3 else payload_of(event)
                kind = b"P" if event.event_type == "prediction" else b"L"
                args += [kind, oid, kind + payload, item[1]]
            chunks.append((first, args))
        return JoinCall(self, items, oids, chunks)

    def _outcomes(
        self,
        items: Sequence[JoinItem],
        oids: list[bytes],
        replies: list[tuple[int, list[int | bytes]]],
        task_of: Callable[[str], Task],
    ) -> JoinResult:
        """Each script reply lists ``(position in its call, status, other side)`` of the items that did not wait."""
        result = JoinResult()
        found = 0
        for first, reply in replies:
            for j in range(0, len(reply), 3):
                i, status, other = first + int(reply[j]) - 1, reply[j + 1], reply[j + 2]
                found += 1
                if status == b"dup":
                    result.duplicates += 1
                    continue
                result.outcomes.append(self._outcome(items[i][0], other, task_of))  # type: ignore[arg-type]
                result.origins.append(items[i][1])
                result.claimed.append(oids[i])
                result.reemitted += status == b"reemit"
        result.waiting = len(items) - found
        return result

    @staticmethod
    def _outcome(event: JoinInput, other: bytes, task_of: Callable[[str], Task]) -> OutcomeEvent:
        if isinstance(event, PredictionEvent):
            prediction, label = event, LabelEvent.model_validate_json(other)
        else:
            prediction, label = PredictionEvent.model_validate_json(other), event
        return make_outcome(prediction, label, task_of(event.model_id))

    @retryable
    def confirm(self, oids: Sequence[bytes]) -> None:
        """The outcomes of these claims are acknowledged: mark them done, free their data."""
        if oids:
            self._confirm(args=[self.base, self.ttl_ms, *oids])

    @retryable
    def sweep(self, limit: int = 10_000) -> int:
        """Count and drop pending predictions past their TTL (never labelled); returns how many."""
        total = 0
        while True:
            n = int(self._sweep(args=[self.base, int(self._clock() * 1000), limit]))
            total += n
            if n < limit:
                return total

    def pending_key(self, model_id: str, prediction_id: str) -> bytes:
        return self.base.encode() + join_key(model_id, prediction_id)

    @retryable
    def stats(self) -> dict[str, int]:
        """``pending`` plus the counters ``outcomes``, ``duplicates``, ``expired``, ``evicted``."""
        pipe = self._r.pipeline(transaction=False)
        pipe.zcard(self.base + "pending")
        pipe.hgetall(self.base + "stats")
        pending, counters = pipe.execute()
        out = {"pending": int(pending), "outcomes": 0, "duplicates": 0, "expired": 0, "evicted": 0}
        out.update({k.decode(): int(v) for k, v in counters.items()})
        return out
