"""Producers across a restart of a broker that keeps no state (tansu: topics, offsets and producer ids are gone).

An idempotent client that held a producer id before the restart would, without recovery, either retry
UNKNOWN_PRODUCER_ID for ever or — once the restarted broker has handed the same id to a new producer — have
its records (or the other producer's) acknowledged as duplicates and never stored. ``EventProducer`` replaces
its client when every broker went away, so: a service-style caller sees the messages of the replaced client as
failed and sends its batch again; the SDK's Monitor produces them again itself. Each test reconciles the ids
it sent against what a consumer reads back, including those of a fresh producer started after the restart
(the one that gets the recycled producer id).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from mlmon_common import topics
from mlmon_common.devstack import free_port, port_open, start_broker, stop_process
from mlmon_common.events import PredictionEvent, decode_event
from mlmon_common.kafka import EventProducer, ensure_topics, wait_for_broker
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import isolated_kafka, unique, wait_for
from mlmon_sdk import Monitor

TOPIC = topics.RAW_PREDICTIONS
N = 100


class Broker:
    """An own broker on a fixed port that the test stops and starts again (empty, as tansu restarts)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.port = run_dir, free_port()
        self.kafka = isolated_kafka(f"127.0.0.1:{self.port}", create=())
        self.pid: int | None = None

    def start(self) -> None:
        self.pid = start_broker(self.run_dir, self.port)[0]
        wait_for_broker(self.kafka, timeout_s=30)
        ensure_topics(self.kafka, [TOPIC])

    def freeze(self) -> None:
        """The broker stops answering (connections stay open): what is sent now stays queued or in flight."""
        assert self.pid is not None
        os.killpg(self.pid, signal.SIGSTOP)

    def crash(self) -> None:
        """kill -9 (of a frozen broker too): the clients see their connections closed."""
        assert self.pid is not None
        os.killpg(self.pid, signal.SIGKILL)
        self.stop()

    def stop(self) -> None:
        if self.pid is not None:
            stop_process(self.pid)
            self.pid = None
        wait_for(lambda: not port_open("127.0.0.1", self.port), 10, "the broker stopped")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


def events(model_id: str, prefix: str, n: int = N) -> list[PredictionEvent]:
    return [
        PredictionEvent(model_id=model_id, prediction_id=f"{prefix}{i}", features={"x": float(i)}) for i in range(n)
    ]


def deliver(producer: EventProducer, batch: list[PredictionEvent], timeout_s: float = 60.0) -> int:
    """What the services do with a batch: send it, wait for the acks, send it all again if any failed.
    Returns the number of attempts."""
    deadline, attempts = time.monotonic() + timeout_s, 0
    while True:
        attempts += 1
        producer.take_failures()
        for event in batch:
            producer.send(TOPIC.name, event)
        left = producer.flush(5.0)
        if not left and not producer.take_failures():
            return attempts
        assert time.monotonic() < deadline, f"batch not acknowledged after {attempts} attempts"


def read_ids(kafka: KafkaSettings, wanted: Counter[str], timeout_s: float = 30.0) -> Counter[str]:
    """Every prediction id on the topic (from the beginning) with how often it is there: read until all of
    ``wanted`` were seen, then one more second for copies."""
    consumer = Consumer(
        kafka.client_config() | {"group.id": unique("reader-"), "enable.auto.commit": False, "fetch.wait.max.ms": 20}
    )
    metadata = consumer.list_topics(kafka.topic(TOPIC.name), timeout=10)
    parts = metadata.topics[kafka.topic(TOPIC.name)].partitions
    consumer.assign([TopicPartition(kafka.topic(TOPIC.name), p, OFFSET_BEGINNING) for p in parts])
    got: Counter[str] = Counter()
    deadline, settle = time.monotonic() + timeout_s, None
    try:
        while settle is None or time.monotonic() < settle:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is None:
                    got[decode_event(msg.value() or b"").prediction_id] += 1  # type: ignore[union-attr]
            if settle is None and set(got) >= set(wanted):
                settle = time.monotonic() + 1.0
            if time.monotonic() > deadline:
                break
    finally:
        consumer.close()
    return got


def reconcile(kafka: KafkaSettings, wanted: Counter[str]) -> None:
    got = read_ids(kafka, wanted)
    assert set(got) == set(wanted), f"lost {len(set(wanted) - set(got))}: {sorted(set(wanted) - set(got))[:10]}"
    assert got == wanted, f"duplicated: {sorted(k for k, n in got.items() if n > 1)[:10]}"


@pytest.mark.parametrize("at_crash", ["idle", "in-flight"])
def test_event_producer_recovers_after_the_broker_lost_its_state(broker: Broker, at_crash: str) -> None:
    kafka, model = broker.kafka, unique("rec-")
    producer = EventProducer(kafka, client_id=unique("svc-"))
    try:
        before = events(model, "a")
        assert deliver(producer, before) == 1
        reconcile(kafka, Counter(e.prediction_id for e in before))

        unacked = events(model, "b") if at_crash == "in-flight" else []
        if unacked:  # sent to a broker that no longer answers, which then dies
            broker.freeze()
            for event in unacked:
                producer.send(TOPIC.name, event)
            assert producer.flush(1.0) == N
            broker.crash()
            wait_for(lambda: producer.flush(0.2) == 0, 30, "the client replaced and its messages given back")
            failures = producer.take_failures()  # reported failed, as any failed delivery: the caller retries
            assert len(failures) == N
            assert {f.code() for f in failures} <= {KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}
        else:  # idle: nothing is polled meanwhile; the next produce() finds the outage and replaces the client
            broker.stop()
        broker.start()  # empty: no topics, no producer ids

        # A process started after the restart gets the first producer id the broker hands out: the one this
        # producer's first client held before the outage.
        fresh = EventProducer(kafka, client_id=unique("new-"))
        newcomer, after, more = events(model, "d"), events(model, "c"), events(model, "e")
        try:
            assert deliver(fresh, newcomer) == 1
            if unacked:
                assert deliver(producer, unacked) == 1  # the caller's retry of its failed batch
            assert deliver(producer, after) <= 2  # idle: the first attempt may meet the outage report
            assert deliver(fresh, more) == 1  # the newcomer keeps writing, unharmed
        finally:
            fresh.close()
        reconcile(kafka, Counter(e.prediction_id for e in [*unacked, *newcomer, *after, *more]))
        assert (producer.stats.resets, producer.generation) == (1, 1)
    finally:
        producer.close()


def test_monitor_loses_nothing_it_queued_across_a_broker_restart(broker: Broker) -> None:
    kafka, model = broker.kafka, unique("sdk-")
    monitor = Monitor(model, "v1", kafka=kafka, delivery_timeout_s=120, producer_config={"log_level": 0})
    try:
        ids = [monitor.log_prediction({"x": float(i)}, i % 2, prediction_id=f"a{i}") for i in range(N)]
        assert monitor.flush(30) == 0
        reconcile(kafka, Counter(str(i) for i in ids))

        broker.freeze()  # queued and in flight in the client when the broker dies
        frozen = [monitor.log_prediction({"x": float(i)}, i % 2, prediction_id=f"b{i}") for i in range(N)]
        assert monitor.flush(1.0) == N
        broker.crash()
        wait_for(lambda: monitor.stats.resent == N, 30, "the replaced client's events queued on the new one")
        down = [monitor.log_prediction({"x": float(i)}, i % 2, prediction_id=f"c{i}") for i in range(N)]
        assert None not in [*frozen, *down]  # never blocks, never drops while the queue has room
        broker.start()

        fresh = EventProducer(kafka, client_id=unique("new-"))  # takes the recycled producer id
        try:
            assert deliver(fresh, events(model, "d")) == 1
        finally:
            fresh.close()
        after = [monitor.log_prediction({"x": float(i)}, i % 2, prediction_id=f"e{i}") for i in range(N)]
        assert monitor.flush(60) == 0
        stats = monitor.stats
        assert (stats.failed, stats.dropped, stats.invalid, stats.resets) == (0, 0, 0, 1)
        assert stats.delivered == 4 * N
    finally:
        monitor.close()
    sdk_ids = [str(i) for i in (*frozen, *down, *after)]
    reconcile(kafka, Counter([*sdk_ids, *(e.prediction_id for e in events(model, "d"))]))
