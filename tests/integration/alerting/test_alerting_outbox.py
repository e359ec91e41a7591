"""The Redis outbox and the engine's idempotency, against real Redis (and the real broker for the engine)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import redis

from mlmon_alerting.config import parse_config
from mlmon_alerting.engine import AlertingEngine
from mlmon_alerting.notify.outbox import Backoff, OutboxRecord
from mlmon_alerting.notify.queue import OutboxQueue
from mlmon_alerting.store import AlertStore
from mlmon_common.kafka import EventProducer, Record
from mlmon_common.settings import KafkaSettings, RedisSettings

from .conftest import metrics

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def record(idem: str, lane: str = "hook|g1|webhook|0", at: datetime = T0) -> OutboxRecord:
    return OutboxRecord.new(idem, "hook", "webhook", 0, {"n": idem}, at, lane=lane)


def test_put_is_idempotent_and_delivered_records_are_never_requeued(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    assert q.put(record("a")) == 1
    assert q.put(record("a")) == 0
    claimed = q.claim("a:webhook:0", T0, lease_s=30)
    assert claimed is not None
    assert q.complete(claimed.delivered(T0), T0)
    assert q.put(record("a")) == 0
    assert q.due(T0 + timedelta(hours=1)) == []
    assert q.counts() == {"pending": 0, "failed": 0, "delivered": 1}
    # a late completion of an old claim cannot turn a delivered record back to pending
    stale = claimed.failed_attempt("late", T0, recoverable=True, policy=Backoff())
    assert not q.complete(stale, T0)
    assert q.get("a:webhook:0").status == "delivered"  # type: ignore[union-attr]


def test_claim_is_exclusive_under_concurrency(redis_client: redis.Redis, redis_settings: RedisSettings) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    for i in range(50):
        q.put(record(f"r{i}", lane=f"lane{i}"))
    won: list[str] = []
    lock = threading.Lock()

    def grab() -> None:
        for key in q.due(T0, limit=100):
            if q.claim(key, T0, lease_s=30) is not None:
                with lock:
                    won.append(key)

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(won) == sorted(f"r{i}:webhook:0" for i in range(50))


def test_lane_order_a_resolve_waits_for_its_firing(redis_client: redis.Redis, redis_settings: RedisSettings) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    q.put(record("firing"))
    q.put(record("resolved", at=T0 + timedelta(seconds=1)))
    first = q.claim("firing:webhook:0", T0 + timedelta(seconds=2), lease_s=30)
    assert first is not None
    retry = first.failed_attempt("HTTP 503", T0 + timedelta(seconds=2), recoverable=True, policy=Backoff())
    q.complete(retry, T0 + timedelta(seconds=2))
    # the resolve is due but must not overtake the firing still being retried
    assert q.claim("resolved:webhook:0", T0 + timedelta(seconds=2), lease_s=30) is None
    later = T0 + timedelta(seconds=10)
    again = q.claim("firing:webhook:0", later, lease_s=30)
    assert again is not None
    q.complete(again.delivered(later), later)
    assert q.claim("resolved:webhook:0", later, lease_s=30) is not None


def test_failed_records_are_counted_and_listed(redis_client: redis.Redis, redis_settings: RedisSettings) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    q.put(record("x"))
    claimed = q.claim("x:webhook:0", T0, lease_s=30)
    assert claimed is not None
    q.complete(claimed.failed_attempt("HTTP 400: bad", T0, recoverable=False, policy=Backoff()), T0)
    assert q.counts() == {"pending": 0, "failed": 1, "delivered": 0}
    assert [r.last_error for r in q.failed()] == ["HTTP 400: bad"]


CONFIG = """
route: {receiver: hook, group_by: [model_id], group_wait: 0s}
receivers: [{name: hook, webhook_configs: [{url: "http://127.0.0.1:9/hook"}]}]
"""


def test_a_replayed_batch_changes_nothing(
    kafka: KafkaSettings, redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    """The runner replays a batch after a crash before its offsets were stored: no new events or records."""
    store = AlertStore(redis_client, redis_settings.key_prefix)
    producer = EventProducer(kafka, client_id="alerting-test")
    try:
        engine = AlertingEngine(parse_config(CONFIG), store, producer)
        batch = [(metrics(f"m{i}", 0.5), Record("metrics", 0, i, None, 0)) for i in range(3)]
        assert engine.handle_batch(batch) == []
        assert store.outbox.counts()["pending"] == 3
        firing = {a["fingerprint"]: a["starts_at"] for a in engine.alerts()}

        restarted = AlertingEngine(parse_config(CONFIG), AlertStore(redis_client, redis_settings.key_prefix), producer)
        restarted.load()
        assert restarted.handle_batch(batch) == []
        assert store.outbox.counts()["pending"] == 3
        assert {a["fingerprint"]: a["starts_at"] for a in restarted.alerts()} == firing
        assert store.unpublished() == []
    finally:
        producer.close()


def test_resolved_alerts_are_forgotten_after_the_retention(
    kafka: KafkaSettings, redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    clock = [datetime.now(UTC)]
    store = AlertStore(redis_client, redis_settings.key_prefix)
    producer = EventProducer(kafka, client_id="alerting-test")
    try:
        engine = AlertingEngine(
            parse_config(CONFIG), store, producer, clock=lambda: clock[0], resolved_retention_s=3600
        )
        engine.load()
        engine.handle_batch([(metrics("m1", 0.5), Record("metrics", 0, 0, None, 0))])
        engine.handle_batch([(metrics("m1", 0.99), Record("metrics", 0, 1, None, 0))])
        assert [a["status"] for a in engine.alerts()] == ["resolved"]
        engine.tick()
        assert len(engine.alerts()) == 1
        clock[0] += timedelta(hours=2)
        engine.tick()
        assert engine.alerts() == []
        assert redis_client.hlen(redis_settings.key_prefix + "alerting:states") == 0
    finally:
        producer.close()


def test_stale_alerts_expire_but_not_before_a_restarted_engine_caught_up(
    kafka: KafkaSettings, redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    t0 = datetime.now(UTC)
    clock = [t0]
    cfg = parse_config(CONFIG + "resolve_timeout: 10s\n")
    producer = EventProducer(kafka, client_id="alerting-test")
    try:
        engine = AlertingEngine(
            cfg, AlertStore(redis_client, redis_settings.key_prefix), producer, clock=lambda: clock[0]
        )
        engine.load()
        engine.handle_batch([(metrics("m1", 0.5), Record("metrics", 0, 0, None, 0))])
        clock[0] = t0 + timedelta(seconds=100)  # the process was down for 100 s, the source went quiet
        restarted = AlertingEngine(
            cfg, AlertStore(redis_client, redis_settings.key_prefix), producer, clock=lambda: clock[0]
        )
        restarted.load()
        restarted.tick()
        assert [a["status"] for a in restarted.alerts()] == ["firing"]  # grace: the backlog may still come
        clock[0] = t0 + timedelta(seconds=111)
        restarted.tick()
        assert [a["status"] for a in restarted.alerts()] == ["resolved"]
        assert store_outbox_pending(redis_client, redis_settings) == 1  # the resolve waits for group_interval
        clock[0] = t0 + timedelta(seconds=301)
        restarted.tick()
        assert store_outbox_pending(redis_client, redis_settings) == 2  # the firing and the resolve
    finally:
        producer.close()


def store_outbox_pending(client: redis.Redis, settings: RedisSettings) -> int:
    return AlertStore(client, settings.key_prefix).outbox.counts()["pending"]


def test_warning_goes_to_the_daily_digest_not_immediately(
    kafka: KafkaSettings, redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    clock = [datetime(2026, 11, 27, 8, 0, tzinfo=UTC)]
    store = AlertStore(redis_client, redis_settings.key_prefix)
    producer = EventProducer(kafka, client_id="alerting-test")
    try:
        engine = AlertingEngine(parse_config(CONFIG), store, producer, clock=lambda: clock[0])
        engine.load()
        engine.handle_batch([(metrics("m1", 0.99, latency_p95_s=0.5), Record("metrics", 0, 0, None, 0))])
        engine.tick()
        assert [(a["alertname"], a["status"]) for a in engine.alerts()] == [("ModelLatencyHigh", "firing")]
        assert store.outbox.counts()["pending"] == 0
        clock[0] = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
        engine.tick()
        assert store.outbox.counts()["pending"] == 1
        key = store.outbox.due(clock[0])[0]
        payload = store.outbox.get(key).payload  # type: ignore[union-attr]
        assert payload["mlmon"]["kind"] == "digest"  # type: ignore[call-overload]
        assert "mlmon daily digest for hook: 1 alerts" in payload["mlmon"]["title"]  # type: ignore[call-overload]
    finally:
        producer.close()
