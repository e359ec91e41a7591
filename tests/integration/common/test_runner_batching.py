"""Consumer batches fill while records keep flowing (``batch_linger_ms``), and a lone record is not held."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError

from mlmon_common import topics
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import wait_for


class Sink:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.arrived: dict[str, float] = {}

    def __call__(self, items: Sequence[Item]) -> list[Rejected]:
        now = time.monotonic()
        self.batches.append(len(items))
        for event, _ in items:
            self.arrived[event.event_id] = now
        return []


def _runner(kafka: KafkaSettings, sink: Sink, linger_ms: int, group: str) -> tuple[ConsumerRunner, threading.Thread]:
    settings = kafka.model_copy(update={"batch_linger_ms": linger_ms})
    runner = ConsumerRunner(
        settings,
        service="batching",
        group_id=f"{kafka.group_prefix}-{group}",
        topics=[topics.RAW_PREDICTIONS],
        handler=sink,
        producer=EventProducer(settings, client_id=f"batching-{group}"),
        batch_size=5000,
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    wait_for(lambda: runner.health.assignment, 30, f"runner {group} assigned")
    return runner, thread


def _paced(kafka: KafkaSettings, rate: float, seconds: float) -> set[str]:
    producer = EventProducer(kafka, client_id="batching-load")
    sent: set[str] = set()
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            while len(sent) < elapsed * rate:
                event = PredictionEvent(model_id=f"m{len(sent) % 4}", prediction_id=str(len(sent)))
                producer.send(topics.RAW_PREDICTIONS.name, event)
                sent.add(event.event_id)
            producer.poll(0)
            time.sleep(0.002)
        assert producer.flush(15) == 0
    finally:
        producer.close()
    return sent


def test_steady_stream_gives_bigger_batches_and_loses_nothing(kafka: KafkaSettings) -> None:
    filled, plain = Sink(), Sink()
    runners = [_runner(kafka, filled, 200, "filled"), _runner(kafka, plain, 0, "plain")]
    try:
        sent = _paced(kafka, 2000, 4.0)
        wait_for(lambda: len(filled.arrived) >= len(sent) and len(plain.arrived) >= len(sent), 30, "every event")
    finally:
        for runner, thread in runners:
            runner.stop()
            thread.join(15)
    assert set(filled.arrived) == set(plain.arrived) == sent
    # one poll (20 ms) holds ~40 records at 2000/s; filling for up to 200 ms holds several times that
    assert statistics.median(filled.batches) >= 3 * statistics.median(plain.batches), (filled.batches, plain.batches)


def test_a_lone_record_is_not_held_for_the_linger(kafka: KafkaSettings) -> None:
    sink = Sink()
    runner, thread = _runner(kafka, sink, 3000, "lone")
    producer = EventProducer(kafka, client_id="batching-lone")
    waits: list[float] = []
    try:
        for i in range(3):
            event = PredictionEvent(model_id="lone", prediction_id=str(i))
            sent_at = time.monotonic()
            producer.send(topics.RAW_PREDICTIONS.name, event)
            assert producer.flush(15) == 0
            wait_for(lambda e=event.event_id: e in sink.arrived, 15, "the record")  # type: ignore[misc]
            waits.append(sink.arrived[event.event_id] - sent_at)
    finally:
        producer.close()
        runner.stop()
        thread.join(15)
    assert sink.batches == [1, 1, 1]
    assert statistics.median(waits) < 1.5, waits  # the linger is 3 s: an idle poll ended each batch


class _RevokingConsumer:
    """Stands in for the confluent consumer inside ``_fill``: a rebalance happens during the second poll."""

    def __init__(self, runner: ConsumerRunner, polls: list[list[Any]]) -> None:
        self.runner, self.polls = runner, polls

    def consume(self, num: int, timeout: float) -> list[Any]:
        if len(self.polls) == 1:
            self.runner._on_assign(self, [])  # type: ignore[arg-type]
            self.runner.health.assignment = [("t", 1)]
        return self.polls.pop(0) if self.polls else []


class _Msg:
    def __init__(self, partition: int) -> None:
        self._partition = partition

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return self._partition


def test_records_of_partitions_revoked_while_filling_are_left_to_their_new_owner(kafka: KafkaSettings) -> None:
    runner = ConsumerRunner(
        kafka.model_copy(update={"batch_linger_ms": 1000}),
        service="batching",
        topics=[topics.RAW_PREDICTIONS],
        handler=Sink(),
        producer=EventProducer(kafka, client_id="batching-revoke"),
    )
    real = runner._consumer
    try:
        runner._consumer = _RevokingConsumer(runner, [[_Msg(1), _Msg(2)], []])  # type: ignore[assignment]
        kept = runner._fill([_Msg(0), _Msg(1)])  # type: ignore[list-item]
    finally:
        runner._consumer = real
        real.close()
    assert [m.partition() for m in kept] == [1, 1]  # only partition 1 is still assigned after the rebalance


class _FailedProducer:
    """Stands in for the producer after a batch whose delivery failed before the runner looked."""

    def __init__(self) -> None:
        self.failures = [KafkaError(KafkaError._MSG_TIMED_OUT)]

    def pending(self) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0

    def take_failures(self) -> list[KafkaError]:
        failures, self.failures = self.failures, []
        return failures


def test_a_failed_delivery_already_reported_makes_the_batch_run_again(kafka: KafkaSettings) -> None:
    producer = EventProducer(kafka, client_id="batching-failed")
    runner = ConsumerRunner(
        kafka, service="batching", topics=[topics.RAW_PREDICTIONS], handler=Sink(), producer=producer
    )
    try:
        runner._producer = _FailedProducer()  # type: ignore[assignment]
        assert runner._await_deliveries() is False  # offsets are not stored: the batch is redone
        assert runner._await_deliveries() is True  # nothing failed since
    finally:
        runner._producer = producer
        runner._consumer.close()
        producer.close()
