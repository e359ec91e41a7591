"""Infrastructure faults under a running stream: Redis restarted (AOF persistence on) and the broker stopped for
30 s. Each test has its own Redis or broker on a free port (the session ones are shared by other tests) and runs
the collector and alerting as real processes against it: readiness drops while the dependency is away, comes
back after, and nothing the services accepted is lost or duplicated."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Message
from pydantic import ValidationError

from mlmon_collector.join import outcome_event_id
from mlmon_common import topics
from mlmon_common.devstack import free_port, start_broker, start_redis, stop_process
from mlmon_common.events import decode_event
from mlmon_common.kafka import ensure_topics, origin_of, wait_for_broker
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import isolated_kafka, unique, wait_for

from .conftest import (
    SERVICES,
    Feeder,
    Receiver,
    Stack,
    TopicReader,
    final_counts,
    low_accuracy,
    send,
    service_env,
    write_config,
)

NAMES = ("collector", "alerting")
#: The outage the issue asks for; the broker stays down at least this long.
BROKER_OUTAGE_S = 30.0


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path


def _wait_ready(stack: Stack, name: str, timeout_s: float) -> None:
    try:
        wait_for(lambda: stack.ready(name), timeout_s, f"{name} ready")
    except TimeoutError:
        body = httpx.get(f"{stack.url(name)}/readyz", timeout=5).text
        raise AssertionError(f"{name} not ready after {timeout_s:.0f}s: {body}") from None


def _not_ready(stack: Stack, names: tuple[str, ...] = NAMES) -> bool:
    return all(stack.readyz(n) == 503 for n in names)


def _every_record(record: Message) -> bool:
    return True


def _reconcile(
    kafka: KafkaSettings,
    feeder: Feeder,
    receiver: Receiver,
    alert_models: list[str],
    countable: Callable[[Message], bool] = _every_record,
) -> None:
    """Every prediction sent has its canonical copy and its outcome (distinct ids); the metrics windows count
    every ``countable`` canonical prediction once; each alert notified exactly once (by idempotency key)."""
    models = set(feeder.models)
    preds, outs, mets = (TopicReader(kafka, t.name) for t in (topics.PREDICTIONS, topics.OUTCOMES, topics.METRICS))
    try:
        expected = {outcome_event_id(m, p) for m, p in feeder.pids}
        wait_for(lambda: {e.event_id for e in outs.events()} >= expected, 60, f"{len(expected)} outcomes")
        assert {e.event_id for e in outs.events() if e.model_id in models} == expected

        def canonical() -> Counter[str]:
            """Distinct countable predictions: copies a replay republished (same event id) count once."""
            decoded = ((r, _decoded(r)) for r in preds.poll())
            distinct = {e.event_id: e for r, e in decoded if e is not None and e.model_id in models and countable(r)}
            return Counter(e.model_id for e in distinct.values())

        wait_for(lambda: {(e.model_id, e.prediction_id) for e in preds.events()} >= feeder.pids, 60, "predictions")
        counted = canonical()
        assert all(counted[m] > 0 for m in models), f"nothing left for the metrics windows to count: {counted}"
        try:
            wait_for(lambda: final_counts(mets.events(), models) == canonical(), 60, "metrics windows")
        except TimeoutError:
            windows = dict(final_counts(mets.events(), models))
            raise AssertionError(f"metrics windows count {windows}, countable canonical {dict(canonical())}") from None
        wait_for(lambda: len(receiver.deliveries(alert_models)) >= len(alert_models), 60, "notifications")
        delivered = [d["model_id"] for d in receiver.deliveries(alert_models)]
        assert set(delivered) == set(alert_models), "every alert is notified (nothing lost)"
        duplicated = {key: n for key, n in receiver.keys().items() if n > 1}
    finally:
        for reader in (preds, outs, mets):
            reader.close()
    assert not duplicated, f"a notification was delivered twice: {duplicated}"


def _decoded(record: Message) -> Any:
    try:
        return decode_event(record.value() or b"")
    except ValidationError:
        return None


def _past_the_old_offsets(kafka: KafkaSettings, published: int) -> Callable[[Message], bool]:
    """Which canonical predictions the metrics windows can count after a restart of a broker that keeps no data.

    The windows skip records at or below the offsets in their checkpoints (their own replay) and below the
    ``mlmon.origin`` marks (copies an upstream replay published). Offsets only grow on Apache Kafka, so there
    this accepts every record; the embedded broker starts its new topics again at offset 0, so the records up
    to the offsets reached before the outage are skipped as replays (docs/faults.md). ``published``: how many
    canonical records the topic holds before the outage.
    """
    reader = TopicReader(kafka, topics.PREDICTIONS.name)
    try:
        before = wait_for(lambda: len(reader.poll()) >= published and reader.records, 30, "the canonical records")
    finally:
        reader.close()
    last: dict[int, int] = {}
    last_origin: dict[bytes, int] = {}
    for record in before:
        part = record.partition() or 0
        last[part] = max(last.get(part, -1), record.offset() or 0)
        source, _, offset = (origin_of(record.headers()) or b"").rpartition(b":")
        if source:
            last_origin[source] = max(last_origin.get(source, -1), int(offset))

    def countable(record: Message) -> bool:
        if (record.offset() or 0) <= last.get(record.partition() or 0, -1):
            return False
        source, _, offset = (origin_of(record.headers()) or b"").rpartition(b":")
        return not source or int(offset) > last_origin.get(source, -1)

    return countable


def test_redis_restart_mid_stream_readiness_drops_recovers_nothing_lost(
    kafka: KafkaSettings, receiver: Receiver, run_dir: Path
) -> None:
    port = free_port()
    pid, _ = start_redis(run_dir, port, persist=True)
    redis_settings = RedisSettings(url=f"redis://127.0.0.1:{port}/0", key_prefix=unique("rr:") + ":")  # type: ignore[arg-type]
    env = service_env(kafka, redis_settings, write_config(run_dir / "mlmon.yml", receiver.url))
    stack = Stack(env, run_dir, NAMES)
    alert_models = [unique("ra-") for _ in range(2)]
    try:
        stack.start()
        with Feeder(kafka, [unique("rm-") for _ in range(3)]) as feeder:
            wait_for(lambda: feeder.n >= 100, 30, "the stream flowing")
            send(kafka, topics.METRICS.name, [low_accuracy(alert_models[0])])
            stop_process(pid)
            wait_for(lambda: _not_ready(stack), 30, "collector and alerting not ready without Redis")
            send(kafka, topics.METRICS.name, [low_accuracy(alert_models[1])])
            n_down = feeder.n
            wait_for(lambda: feeder.n >= n_down + 100, 30, "events sent while Redis is down")
            pid, _ = start_redis(run_dir, port, persist=True)
            for name in NAMES:
                wait_for(lambda n=name: stack.ready(n), 60, f"{name} ready again")  # type: ignore[misc]
            n_up = feeder.n
            wait_for(lambda: feeder.n >= n_up + 100, 30, "events sent after Redis came back")
        _reconcile(kafka, feeder, receiver, alert_models)
    finally:
        stack.stop()
        stop_process(pid)


@pytest.fixture
def own_broker(run_dir: Path) -> Iterator[tuple[KafkaSettings, list[int]]]:
    port = free_port()
    pids = [start_broker(run_dir, port)[0]]
    kafka = isolated_kafka(f"127.0.0.1:{port}", create=())
    wait_for_broker(kafka, timeout_s=30)
    ensure_topics(kafka, topics.ALL)
    yield kafka, pids
    for pid in pids:
        stop_process(pid)


def test_broker_down_30s_services_not_ready_then_reconnect_and_resume(
    own_broker: tuple[KafkaSettings, list[int]], redis_settings: RedisSettings, receiver: Receiver, run_dir: Path
) -> None:
    """The services are not restarted: they report not-ready during the outage, reconnect, replace their
    producer clients (the restarted broker lost their producer ids) and process new events by themselves.
    tansu keeps no data across a restart: topics are re-created after it, and only events sent after the
    broker came back are reconciled (what was consumed before the outage is already in Redis)."""
    kafka, pids = own_broker
    env = service_env(kafka, redis_settings, write_config(run_dir / "mlmon.yml", receiver.url))
    stack = Stack(env, run_dir, SERVICES)
    before_model, after_model = unique("ba-"), unique("bb-")
    try:
        stack.start()
        processes = {name: stack.procs[name].proc for name in SERVICES}
        with Feeder(kafka, [unique("bm-") for _ in range(2)]) as before:
            wait_for(lambda: before.n >= 100, 30, "the stream flowing")
        send(kafka, topics.METRICS.name, [low_accuracy(before_model)])
        _reconcile(kafka, before, receiver, [before_model])
        countable_after = _past_the_old_offsets(kafka, len(before.pids))

        stop_process(pids.pop())
        down_at = time.monotonic()
        wait_for(lambda: _not_ready(stack, SERVICES), 25, "every service not ready without the broker")
        # Stay down for the whole outage, checking that nobody claims to be ready meanwhile.
        wait_for(
            lambda: (
                (_not_ready(stack, SERVICES) or pytest.fail("a service reported ready without a broker"))
                and time.monotonic() - down_at >= BROKER_OUTAGE_S
            ),
            BROKER_OUTAGE_S + 10,
            f"{BROKER_OUTAGE_S:.0f} s of broker outage",
            interval_s=0.5,
        )
        pids.append(start_broker(run_dir, int(kafka.bootstrap.rsplit(":", 1)[1]))[0])
        wait_for_broker(kafka, timeout_s=30)
        ensure_topics(kafka, topics.ALL)  # the embedded broker lost them (Apache Kafka keeps them)
        for name in SERVICES:
            _wait_ready(stack, name, 60)
        with Feeder(kafka, [unique("bn-") for _ in range(2)]) as after:
            wait_for(lambda: after.n >= 300, 30, "the stream after the outage")
        send(kafka, topics.METRICS.name, [low_accuracy(after_model)])
        try:
            _reconcile(kafka, after, receiver, [after_model], countable_after)
        except AssertionError as exc:
            stats = httpx.get(f"{stack.url('collector')}/metrics", timeout=5).text.splitlines()
            wanted = ("mlmon_collector_metrics_total", "mlmon_collector_windows", "mlmon_consumer_lag")
            raise AssertionError(f"{exc}\ncollector: {[x for x in stats if x.startswith(wanted)]}") from None
        assert [d["model_id"] for d in receiver.deliveries([before_model])] == [before_model]  # not re-sent
        assert {name: stack.procs[name].proc for name in SERVICES} == processes, "a service was restarted"
        assert all(proc is not None and proc.poll() is None for proc in processes.values())
    finally:
        stack.stop()


def test_readiness_returns_after_broker_outage_without_traffic(
    own_broker: tuple[KafkaSettings, list[int]], redis_settings: RedisSettings, receiver: Receiver, run_dir: Path
) -> None:
    kafka, pids = own_broker
    env = service_env(kafka, redis_settings, write_config(run_dir / "mlmon.yml", receiver.url))
    stack = Stack(env, run_dir, ("alerting",))
    try:
        stack.start()
        stop_process(pids.pop())
        wait_for(lambda: stack.readyz("alerting") == 503, 25, "alerting not ready without the broker")
        pids.append(start_broker(run_dir, int(kafka.bootstrap.rsplit(":", 1)[1]))[0])
        wait_for_broker(kafka, timeout_s=30)
        ensure_topics(kafka, topics.ALL)
        try:
            wait_for(lambda: stack.ready("alerting"), 20, "alerting ready again")
        except TimeoutError:
            body = httpx.get(f"{stack.url('alerting')}/readyz", timeout=5).text
            assert "all brokers down" not in body, body  # the defect; anything else is another failure
            raise
    finally:
        stack.stop()
