"""The Redis join on its own (real Redis): TTL expiry counted as never labelled, the memory bound evicting
the oldest pending predictions, claims re-emitted only to the record that made them, and the memory one
pending prediction takes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from mlmon_collector import joiner_store
from mlmon_collector.canonical import RawPrediction, decode_raw
from mlmon_collector.joiner_store import JoinStore
from mlmon_common.events import LabelEvent, PredictionEvent
from mlmon_common.settings import RedisSettings

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def pred(pid: str) -> PredictionEvent:
    return PredictionEvent(model_id="m", prediction_id=pid, features={"x": 1.5}, prediction=1, occurred_at=T0)


def label(pid: str, value: int = 1) -> LabelEvent:
    return LabelEvent(model_id="m", prediction_id=pid, label=value, occurred_at=T0)


def store(client: redis.Redis, settings: RedisSettings, clock: Clock, **kw: float) -> JoinStore:
    params = {"ttl_s": 3600.0, "max_pending": 1000} | kw
    return JoinStore(
        client, settings.key_prefix, ttl_s=params["ttl_s"], max_pending=int(params["max_pending"]), clock=clock
    )


def task(_model_id: str) -> str:
    return "classification"


def test_expired_predictions_are_counted_never_labelled(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    clock = Clock()
    join = store(redis_client, redis_settings, clock, ttl_s=60)
    assert join.process([(pred("a"), "t:0:0"), (pred("b"), "t:0:1")], task).waiting == 2
    clock.now += 30
    assert join.sweep() == 0
    result = join.process([(label("a"), "l:0:0")], task)
    join.confirm(result.claimed)
    clock.now += 31
    assert join.sweep() == 1  # "b" expired unlabelled; "a" was joined
    assert join.stats() == {"pending": 0, "outcomes": 1, "duplicates": 0, "expired": 1, "evicted": 0}


def test_memory_bound_evicts_the_oldest(redis_client: redis.Redis, redis_settings: RedisSettings) -> None:
    clock = Clock()
    join = store(redis_client, redis_settings, clock, max_pending=3)
    for i in range(5):
        clock.now += 1
        join.process([(pred(f"p{i}"), f"t:0:{i}")], task)
    assert join.stats()["pending"] == 3
    assert join.stats()["evicted"] == 2
    late = join.process([(label("p0"), "l:0:0"), (label("p4"), "l:0:1")], task)
    assert [o.prediction_id for o in late.outcomes] == ["p4"]  # p0 was evicted: its label now waits
    assert late.waiting == 1


def test_only_the_claiming_record_reemits_until_confirmed(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    join = store(redis_client, redis_settings, Clock())
    join.process([(pred("a"), "t:0:7")], task)
    first = join.process([(label("a", 0), "l:0:3")], task)
    assert [o.label for o in first.outcomes] == [0]
    assert join.process([(label("a", 1), "l:0:4")], task).duplicates == 1  # another label: nothing
    again = join.process([(label("a", 0), "l:0:3")], task)  # the same record, before confirmation
    assert (again.reemitted, [o.event_id for o in again.outcomes]) == (1, [first.outcomes[0].event_id])
    join.confirm(first.claimed)
    replay = join.process([(pred("a"), "t:0:7"), (label("a", 0), "l:0:3")], task)
    assert (replay.outcomes, replay.duplicates) == ([], 2)
    assert join.stats()["outcomes"] == 1


@pytest.mark.parametrize("n", [2000])
def test_memory_per_pending_prediction(redis_client: redis.Redis, redis_settings: RedisSettings, n: int) -> None:
    """~450-byte predictions (14 features): bytes per pending must allow 1M pending per GB."""
    join = store(redis_client, redis_settings, Clock(), max_pending=10 * n)
    features: dict[str, float | int | str | bool] = {
        "age": 41, "income": 52310.5, "tenure_months": 17, "balance": 1234.56, "num_products": 2,
        "credit_score": 688, "country": "DE", "plan": "pro", "is_active": True, "last_login_days": 3,
        "support_tickets": 1, "avg_session_min": 12.4, "device": "ios", "channel": "web",
    }  # fmt: skip
    events = [
        PredictionEvent(
            model_id="bench-model",
            prediction_id=f"p-{i:09d}",
            features=features,
            prediction=1,
            score=0.8731,
            latency_ms=12.5,
            model_version="v1",
        )
        for i in range(n)
    ]
    assert len(events[0].to_json()) > 400
    decoded = [decode_raw(e.to_json()) for e in events]  # what the service stores: the raw bytes, kept
    assert all(isinstance(d, RawPrediction) for d in decoded)
    join.process([(d.event, f"t:0:{i}", d.pending()) for i, d in enumerate(decoded)], task)  # type: ignore[union-attr]
    assert redis_client.zcard(join.base + "pending") == n
    keys = [join.base.encode() + m for m in redis_client.zrange(join.base + "pending", 0, 199)]
    assert keys[0] in {join.pending_key("bench-model", e.prediction_id) for e in events}
    per_key = sum(int(redis_client.memory_usage(k, samples=0) or 0) for k in keys) / len(keys)
    per_index = int(redis_client.memory_usage(join.base + "pending", samples=0) or 0) / n
    per_pending = per_key + per_index
    assert per_pending < 1024, f"{per_pending:.0f} bytes per pending prediction"


def test_prediction_and_label_in_one_batch_leave_nothing_pending(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    join = store(redis_client, redis_settings, Clock())
    result = join.process([(pred("a"), "t:0:0"), (label("a"), "l:0:0"), (pred("b"), "t:0:1")], task)
    assert [o.prediction_id for o in result.outcomes] == ["a"]
    join.confirm(result.claimed)
    assert join.stats()["pending"] == 1


def test_a_join_abandoned_before_its_reply_leaves_no_half_read_connection(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    join = store(redis_client, redis_settings, Clock())
    call = join.submit([(pred("a"), "t:0:0")])
    call.close()  # e.g. publishing the batch failed: the reply is never read
    result = join.process([(label("a"), "l:0:0")], task)  # a pooled connection must not return the old reply
    assert [o.prediction_id for o in result.outcomes] == ["a"]


def test_the_join_script_is_reloaded_after_a_script_flush(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    join = store(redis_client, redis_settings, Clock())
    assert join.process([(pred("a"), "t:0:0")], task).waiting == 1
    redis_client.script_flush()
    result = join.process([(label("a"), "l:0:0")], task)
    assert [o.prediction_id for o in result.outcomes] == ["a"]


def test_a_batch_split_into_several_script_calls_joins_like_one(
    redis_client: redis.Redis, redis_settings: RedisSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joiner_store, "CHUNK", 2)
    join = store(redis_client, redis_settings, Clock())
    batch = [(pred("a"), "t:0:0"), (pred("b"), "t:0:1"), (label("a"), "l:0:0"), (label("a"), "l:0:1")]
    batch += [(label("c"), "l:0:2"), (pred("c"), "t:0:2"), (pred("d"), "t:0:3")]
    result = join.process(batch, task)
    assert sorted(o.prediction_id for o in result.outcomes) == ["a", "c"]
    assert (result.duplicates, result.waiting) == (1, 4)  # waiting: a, b, label c, d when they arrived
    join.confirm(result.claimed)
    redis_client.script_flush()
    again = join.process(batch, task)  # a replay after a confirm: nothing new, every script call reloaded
    assert (again.outcomes, again.duplicates) == ([], 7)
    assert join.stats()["pending"] == 2
