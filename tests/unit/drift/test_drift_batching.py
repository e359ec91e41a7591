"""Batched delivery through faust (``mlmon_drift.batching``): acking a batch event acks its whole offset range."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.serializers import codecs
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import ConsumerMessage
from faust.types import TP

from mlmon_drift.batching import BATCH_SERIALIZER, BatchConsumer, BatchTransport, RecordBatch

TOPIC = TP("t", 0)


def _message(offsets: list[int]) -> ConsumerMessage:
    batch = RecordBatch(TOPIC.topic, TOPIC.partition, [SimpleNamespace(offset=o) for o in offsets])
    return ConsumerMessage(TOPIC.topic, TOPIC.partition, offsets[-1], 0.0, 0, [], None, batch, None, tp=TOPIC)


def _consumer(committed: int | None) -> Any:
    """The state ``BatchConsumer.ack`` touches (faust's own bookkeeping attributes), without a live consumer."""
    return SimpleNamespace(
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: topic == TOPIC.topic)),
        _committed_offset={TOPIC: committed},
        _acked_index=defaultdict(set),
        _acked=defaultdict(list),
        _n_acked=0,
        _unacked_messages=set(),
    )


def test_batch_ack_covers_the_offset_range_once() -> None:
    consumer = _consumer(committed=5)
    first, second = _message([3, 5, 6, 8]), _message([9, 10])  # 3 is below the committed offset
    consumer._unacked_messages.update({first, second})
    assert BatchConsumer.ack(consumer, first) is True
    assert BatchConsumer.ack(consumer, first) is False  # a second ack of the same batch is a no-op
    assert consumer._acked[TOPIC] == [5, 6, 7, 8]  # the offset missing inside the batch (7) included
    BatchConsumer.ack(consumer, second)
    assert consumer._acked[TOPIC] == [5, 6, 7, 8, 9, 10]
    assert consumer._n_acked == 6
    assert not consumer._unacked_messages
    assert first.acked


def test_batch_values_pass_through_the_codec_and_transport_uses_the_batch_consumer() -> None:
    batch = _message([1, 2]).value
    assert codecs.loads(BATCH_SERIALIZER, batch) is batch
    assert len(batch) == 2
    assert (batch.first_offset, batch.last_offset) == (1, 2)
    assert BatchTransport.Consumer is BatchConsumer


def test_faust_internals_the_batch_consumer_relies_on_exist() -> None:
    """BatchConsumer replaces faust's fetch loop: fail loudly here if a faust upgrade moves what it uses."""
    for name in ("_drain_messages", "_wait_next_records", "_add_gap", "perform_seek", "highwater", "wait_first"):
        assert callable(getattr(FaustConsumer, name, None)), name
    assert "_drain_messages" in BatchConsumer.__dict__
