"""When EventProducer replaces its librdkafka client, and what happens to the messages the old client held.

The classification and the per-client outage rule are pure. The last tests use a real client pointed at a
closed port (no broker): losing every broker is what librdkafka reports there within milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError

from mlmon_common.kafka.producer import EventProducer, Generation, needs_new_client
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import wait_for


@pytest.mark.parametrize(
    "code",
    [
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError._FATAL,
    ],
)
def test_lost_producer_state_needs_a_new_client(code: int) -> None:
    assert needs_new_client(KafkaError(code))


def test_any_fatal_error_needs_a_new_client() -> None:
    assert needs_new_client(KafkaError(KafkaError._INCONSISTENT, "gap", fatal=True))


@pytest.mark.parametrize(
    "code",
    [
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
    ],
)
def test_transient_and_per_message_errors_keep_the_client(code: int) -> None:
    assert not needs_new_client(KafkaError(code))


def test_a_client_that_was_connected_is_replaced_at_the_first_outage() -> None:
    assert Generation(1, born_in_outage=True, born=0.0, acked=3).all_brokers_down(now=1.0)
    # Created while the broker was (presumably) up: it may hold a producer id without having delivered yet.
    assert Generation(0, born=0.0).all_brokers_down(now=1.0)


def test_a_client_born_in_an_outage_ignores_it_until_it_delivered_or_settled() -> None:
    gen = Generation(2, born_in_outage=True, born=0.0)
    assert not gen.all_brokers_down(now=1.0)  # its own first connection attempts failing: the same outage
    assert not gen.all_brokers_down(now=Generation.settle_s - 0.1)  # librdkafka repeats the report
    assert gen.all_brokers_down(now=Generation.settle_s)  # long outage: replaced once per settle_s
    gen.acked += 1
    assert gen.all_brokers_down(now=1.0)  # it was connected: its producer id may be handed out again


OFFLINE = KafkaSettings(bootstrap="127.0.0.1:1")  # nothing listens on port 1
QUIET = {"log_level": 0, "message.timeout.ms": 60_000}


@pytest.fixture
def offline_producer(request: pytest.FixtureRequest) -> Iterator[EventProducer]:
    # poll_each=False: nothing serves the client's error reports while the test queues its messages
    producer = EventProducer(OFFLINE, client_id="unit-offline", poll_each=False, config=QUIET, **request.param)
    yield producer
    producer.close(0.5)


@pytest.mark.parametrize("offline_producer", [{}], indirect=True)
def test_messages_of_a_replaced_client_are_reported_failed(offline_producer: EventProducer) -> None:
    for i in range(5):
        offline_producer.produce("t", b"v%d" % i, b"k")
    wait_for(lambda: offline_producer.flush(0.2) == 0, 10, "the old client replaced and its queue purged")
    failures = offline_producer.take_failures()
    assert [f.code() for f in failures] == [KafkaError._PURGE_QUEUE] * 5  # the caller retries its batch
    assert offline_producer.stats.failed["t"] == 5
    assert offline_producer.stats.resets == 1
    assert offline_producer.generation == 1
    # The replacement was born in this outage: its own "all brokers down" does not replace it again.
    offline_producer.produce("t", b"later", b"k")
    assert offline_producer.flush(1.0) >= 1
    assert offline_producer.stats.resets == 1
    assert not offline_producer.take_failures()


@pytest.mark.parametrize("offline_producer", [{"requeue_on_reset": True}], indirect=True)
def test_messages_of_a_replaced_client_are_queued_again_with_requeue(offline_producer: EventProducer) -> None:
    for i in range(5):
        offline_producer.produce("t", b"v%d" % i, b"k", [("h", b"x")])
    # poll_each=False: the caller serves the reports (the SDK's poller thread does this)
    wait_for(lambda: offline_producer.poll(0.1) >= 0 and offline_producer.stats.resent == 5, 10, "queued again")
    assert offline_producer.stats.resets == 1
    assert not offline_producer.take_failures()
    assert sum(offline_producer.stats.failed.values()) == 0
    assert offline_producer.pending() >= 5  # waiting in the new client for the broker (plus its error reports)
    offline_producer.close(0.5)
    assert sum(offline_producer.stats.failed.values()) == 5  # given up at close, and counted: nothing vanished


@pytest.mark.parametrize("offline_producer", [{}], indirect=True)
def test_close_never_blocks_on_undeliverable_messages(offline_producer: EventProducer) -> None:
    offline_producer.produce("t", b"v", b"k")
    wait_for(lambda: offline_producer.flush(0.2) == 0, 10, "first replacement done")
    offline_producer.take_failures()
    offline_producer.produce("t", b"stuck", b"k")  # no broker: would wait for message.timeout.ms (60 s)
    started = time.monotonic()
    offline_producer.close(0.5)
    assert time.monotonic() - started < 5
    assert [f.code() for f in offline_producer.take_failures()] == [KafkaError._PURGE_QUEUE]
