"""Per-model maintenance state in Redis: plans with their audit trail, last runs, alerts, training rows.

Every key starts with the configured prefix (``settings.redis.key_prefix``, ``mlmon:`` by default)::

    <p>maint:plan:<plan id>            STRING  the plan (JSON, with its audit trail and result)
    <p>maint:plans                     ZSET    plan id -> created_at (epoch s)
    <p>maint:model-plans:<model>       ZSET    plan id -> created_at
    <p>maint:inflight                  SET     ids of plans proposed/approved/running
    <p>maint:models                    SET     model ids seen
    <p>maint:last-run:<model>          HASH    action -> when it last finished (ISO 8601)
    <p>maint:alerts:<model>            HASH    alert fingerprint -> the firing AlertEvent (JSON)
    <p>maint:metrics:<model>           STRING  latest metrics values (JSON)
    <p>maint:baseline:<model>          HASH    metric -> reference value (set at first sight and on promotion)
    <p>maint:outcomes:<model>          LIST    recent labelled outcomes, newest first (bounded: the training data)
    <p>maint:model:<model>             STRING  the model in production (JSON, written on promotion)
    <p>maint:scale:<service>           STRING  auto_scale history (JSON)
    <p>drift:reference_reset:<model>   STRING  promotion time (ISO 8601): the drift service resets its reference

Plan updates are optimistic transactions (``WATCH``): concurrent writers (consumer, HTTP, job worker)
never lose an audit entry, and an illegal transition leaves the stored plan untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import redis
from redis.exceptions import WatchError

from mlmon_common.events import AlertEvent
from mlmon_common.store import retryable
from mlmon_maintenance.config import ACTION_TYPES, ActionType
from mlmon_maintenance.plans import MaintenancePlan
from mlmon_maintenance.retrain import Row

logger = logging.getLogger(__name__)


#: KEYS[1] the list, KEYS[2..] one dedupe key per row; ARGV: window, dedupe ttl, rows.
_ADD_ROWS = """
local added = 0
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', tonumber(ARGV[2])) then
    redis.call('LPUSH', KEYS[1], ARGV[i + 1])
    added = added + 1
  end
end
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
return added
"""


class PlanNotFoundError(KeyError):
    """No plan with this id."""


class StateStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r: Any = client  # redis-py's response types are unions of sync/async; bytes here
        self.prefix = prefix
        self.p = f"{prefix}maint:"

    # -- keys ------------------------------------------------------------------------------------------

    def plan_key(self, plan_id: str) -> str:
        return f"{self.p}plan:{plan_id}"

    def _model_plans(self, model_id: str) -> str:
        return f"{self.p}model-plans:{model_id}"

    def reset_key(self, model_id: str) -> str:
        return f"{self.prefix}drift:reference_reset:{model_id}"

    # -- plans -----------------------------------------------------------------------------------------

    @retryable
    def create(self, plan: MaintenancePlan) -> bool:
        """Store a new plan; False if a plan with this id exists (a replay)."""
        key = self.plan_key(plan.id)
        with self.r.pipeline() as pipe:
            try:
                pipe.watch(key)
                if pipe.exists(key):
                    return False
                pipe.multi()
                pipe.set(key, plan.model_dump_json())
                created = plan.created_at.timestamp()
                pipe.zadd(f"{self.p}plans", {plan.id: created})
                pipe.zadd(self._model_plans(plan.model_id), {plan.id: created})
                pipe.sadd(f"{self.p}inflight", plan.id)
                pipe.execute()
                return True
            except WatchError:
                return False

    @retryable
    def get(self, plan_id: str) -> MaintenancePlan:
        raw = self.r.get(self.plan_key(plan_id))
        if raw is None:
            raise PlanNotFoundError(plan_id)
        return MaintenancePlan.model_validate_json(raw)

    @retryable
    def update(self, plan_id: str, change: Callable[[MaintenancePlan], MaintenancePlan]) -> MaintenancePlan:
        """Apply ``change`` atomically; its exceptions (e.g. ``IllegalTransitionError``) propagate unchanged."""
        key = self.plan_key(plan_id)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise PlanNotFoundError(plan_id)
                    new = change(MaintenancePlan.model_validate_json(raw))
                    pipe.multi()
                    pipe.set(key, new.model_dump_json())
                    if new.in_flight:
                        pipe.sadd(f"{self.p}inflight", plan_id)
                    else:
                        pipe.srem(f"{self.p}inflight", plan_id)
                    if new.state in ("succeeded", "failed") and new.finished_at is not None:
                        at = new.finished_at.isoformat()
                        pipe.hset(self._last_run_key(new.model_id), mapping={a: at for a in new.action_types})
                    pipe.execute()
                    return new
                except WatchError:
                    continue

    @retryable
    def find_plans(
        self, model_id: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[MaintenancePlan]:
        """Newest first."""
        index = self._model_plans(model_id) if model_id else f"{self.p}plans"
        ids = [i.decode() for i in self.r.zrevrange(index, 0, -1 if state else limit - 1)]
        plans = self._load(ids)
        if state:
            plans = [p for p in plans if p.state == state]
        return plans[:limit]

    @retryable
    def in_flight(self) -> list[MaintenancePlan]:
        ids = sorted(i.decode() for i in self.r.smembers(f"{self.p}inflight"))
        return [p for p in self._load(ids) if p.in_flight]

    def recent_plans(self, model_id: str, limit: int = 50) -> list[MaintenancePlan]:
        """The model's plans the planner must see: in flight, or recent enough for cooldowns and replays."""
        return self.find_plans(model_id, limit=limit)

    def _load(self, ids: Sequence[str]) -> list[MaintenancePlan]:
        if not ids:
            return []
        raws = self.r.mget([self.plan_key(i) for i in ids])
        return [MaintenancePlan.model_validate_json(raw) for raw in raws if raw is not None]

    # -- models ----------------------------------------------------------------------------------------

    def _last_run_key(self, model_id: str) -> str:
        return f"{self.p}last-run:{model_id}"

    @retryable
    def see_model(self, model_id: str, now: datetime) -> bool:
        """Register a model; on first sight its schedules start counting from ``now``. True if new."""
        if not self.r.sadd(f"{self.p}models", model_id):
            return False
        pipe = self.r.pipeline()
        for action in ACTION_TYPES:
            pipe.hsetnx(self._last_run_key(model_id), action, now.isoformat())
        pipe.execute()
        return True

    @retryable
    def models(self) -> list[str]:
        return sorted(m.decode() for m in self.r.smembers(f"{self.p}models"))

    @retryable
    def last_runs(self, model_id: str) -> dict[ActionType, datetime]:
        raw = self.r.hgetall(self._last_run_key(model_id))
        out: dict[ActionType, datetime] = {}
        for k, v in raw.items():
            name = k.decode()
            if name in ACTION_TYPES:
                out[name] = datetime.fromisoformat(v.decode())
        return out

    @retryable
    def put_alert(self, alert: AlertEvent) -> None:
        """Keep firing alerts by fingerprint; a resolved alert leaves the state."""
        key = f"{self.p}alerts:{alert.model_id}"
        if alert.status == "firing":
            self.r.hset(key, alert.fingerprint, alert.model_dump_json())
        else:
            self.r.hdel(key, alert.fingerprint)

    @retryable
    def alerts(self, model_id: str) -> list[AlertEvent]:
        raw = self.r.hgetall(f"{self.p}alerts:{model_id}")
        alerts = [AlertEvent.model_validate_json(v) for v in raw.values()]
        return sorted(alerts, key=lambda a: (a.starts_at, a.fingerprint))

    @retryable
    def put_metrics(self, model_id: str, values: dict[str, float]) -> None:
        self.r.set(f"{self.p}metrics:{model_id}", json.dumps(values, sort_keys=True))
        base = f"{self.p}baseline:{model_id}"
        pipe = self.r.pipeline()
        for name, value in values.items():
            pipe.hsetnx(base, name, repr(value))
        pipe.execute()

    @retryable
    def metrics(self, model_id: str) -> dict[str, float]:
        raw = self.r.get(f"{self.p}metrics:{model_id}")
        return json.loads(raw) if raw else {}

    @retryable
    def baseline(self, model_id: str) -> dict[str, float]:
        raw = self.r.hgetall(f"{self.p}baseline:{model_id}")
        return {k.decode(): float(v) for k, v in raw.items()}

    @retryable
    def add_rows(self, model_id: str, rows: Sequence[tuple[str, Row]], window: int, dedupe_ttl_s: int) -> int:
        """Append (event id, row) pairs not seen before, atomically with their dedupe marks; rows added."""
        if not rows:
            return 0
        keys = [f"{self.p}outcomes:{model_id}", *(f"{self.p}seen:{event_id}" for event_id, _ in rows)]
        args = [window, dedupe_ttl_s, *(row.model_dump_json() for _, row in rows)]
        return int(self.r.eval(_ADD_ROWS, len(keys), *keys, *args))

    @retryable
    def rows(self, model_id: str) -> list[bytes]:
        """The training window as NDJSON lines, oldest first."""
        return list(reversed(self.r.lrange(f"{self.p}outcomes:{model_id}", 0, -1)))

    @retryable
    def production_model(self, model_id: str) -> str | None:
        raw = self.r.get(f"{self.p}model:{model_id}")
        return raw.decode() if raw else None

    @retryable
    def promote(self, model_id: str, model_json: str, metrics: dict[str, float], at: datetime) -> None:
        """Put a verified candidate in production: new baseline, and tell drift to reset its reference."""
        pipe = self.r.pipeline()
        pipe.set(f"{self.p}model:{model_id}", model_json)
        if metrics:
            pipe.hset(f"{self.p}baseline:{model_id}", mapping={k: repr(v) for k, v in metrics.items()})
        pipe.set(self.reset_key(model_id), at.isoformat())
        pipe.execute()

    # -- auto scale ------------------------------------------------------------------------------------

    @retryable
    def scale_history(self, service: str) -> dict[str, Any] | None:
        raw = self.r.get(f"{self.p}scale:{service}")
        return json.loads(raw) if raw else None

    @retryable
    def put_scale_history(self, service: str, doc: dict[str, Any]) -> None:
        self.r.set(f"{self.p}scale:{service}", json.dumps(doc, sort_keys=True))
