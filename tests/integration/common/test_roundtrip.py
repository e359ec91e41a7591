"""SDK -> broker -> consumer runner: every event arrives, also across a SIGKILL of the consumer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import redis

from mlmon_common import topics
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import consume_n, wait_for
from mlmon_sdk import Monitor

PROC = Path(__file__).with_name("proc_consumer.py")
N = 20_000


def _publish(kafka: KafkaSettings, n: int) -> set[str]:
    """n predictions through the SDK; returns their event ids (read back from the topic)."""
    with Monitor("rt-model", "v1", kafka=kafka) as monitor:
        for i in range(n):
            assert monitor.log_prediction({"x": i * 0.5, "country": "DE"}, prediction=i % 2, score=0.7, latency_ms=3.0)
        assert monitor.flush(30) == 0
        stats = monitor.stats
    assert (stats.delivered, stats.dropped, stats.failed, stats.invalid) == (n, 0, 0, 0)
    msgs = consume_n(kafka, kafka.topic(topics.RAW_PREDICTIONS.name), n)
    return {m.value().split(b'"event_id":"', 1)[1].split(b'"', 1)[0].decode() for m in msgs}


def test_sdk_to_runner_receives_every_event(kafka: KafkaSettings) -> None:
    sent = _publish(kafka, N)
    assert len(sent) == N
    received: list[str] = []

    def handle(items: Sequence[Item]) -> list[Rejected]:
        received.extend(event.event_id for event, _ in items)
        return []

    runner = ConsumerRunner(
        kafka,
        service="rt",
        topics=[topics.RAW_PREDICTIONS],
        handler=handle,
        producer=EventProducer(kafka, client_id="rt-dlq"),
    )
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        wait_for(lambda: len(received) >= N, 60, f"{N} events")
    finally:
        runner.stop()
        thread.join(15)
    assert set(received) == sent
    assert runner.stats.consumed[kafka.topic(topics.RAW_PREDICTIONS.name)] == N
    assert not runner.stats.deadlettered


def _start(kafka: KafkaSettings, redis_url: str, key: str, batch: int = 200) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        str(PROC),
        kafka.bootstrap,
        kafka.topic_suffix,
        kafka.group_prefix,
        redis_url,
        key,
        str(batch),
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_mid_stream_loses_nothing(
    kafka: KafkaSettings, redis_settings: RedisSettings, redis_client: redis.Redis
) -> None:
    sent = _publish(kafka, N)
    key = redis_settings.key_prefix + "rt"
    url = redis_settings.url.get_secret_value()
    proc = _start(kafka, url, key, batch=100)
    try:
        wait_for(lambda: redis_client.scard(f"{key}:ids") >= N // 3, 60, "a third of the events handled")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        handled_before = redis_client.scard(f"{key}:ids")
        assert handled_before < N, "the kill came too late to test anything"
        proc = _start(kafka, url, key)
        wait_for(lambda: redis_client.scard(f"{key}:ids") >= N, 90, "all events after restart")
    finally:
        proc.terminate()
        proc.wait(15)
    ids = {m.decode() for m in redis_client.smembers(f"{key}:ids")}
    assert ids == sent
    handled = int(redis_client.get(f"{key}:handled") or 0)
    dups = int(redis_client.get(f"{key}:dups") or 0)
    assert handled == N + dups  # redelivered records were counted and removed by the idempotent handler
    assert dups <= handled_before  # at most what was handled but not yet committed came again


def test_sigterm_exits_within_10s_and_commits_handled(
    kafka: KafkaSettings, redis_settings: RedisSettings, redis_client: redis.Redis
) -> None:
    _publish(kafka, N)
    key = redis_settings.key_prefix + "term"
    proc = _start(kafka, redis_settings.url.get_secret_value(), key, batch=50)
    wait_for(lambda: redis_client.scard(f"{key}:ids") >= 2000, 60, "consumption under way")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    handled = redis_client.scard(f"{key}:ids")
    assert 0 < handled < N, "SIGTERM should land mid-stream"
    from confluent_kafka import Consumer, TopicPartition

    name = kafka.topic(topics.RAW_PREDICTIONS.name)
    probe = Consumer(kafka.client_config() | {"group.id": f"{kafka.group_prefix}-proc"})
    parts = [TopicPartition(name, p) for p in range(topics.RAW_PREDICTIONS.partitions)]
    committed = sum(max(tp.offset, 0) for tp in probe.committed(parts, timeout=10))
    probe.close()
    assert committed == handled  # every handled record committed, nothing beyond
