"""Batched delivery for faust: one stream event per fetched batch of one partition, not one per record.

faust delivers every Kafka record on its own: the fetcher races the conductor callback against flow suspension
(two tasks per record), the record becomes an event, goes through a queue and the stream iterator, and is acked
alone. That costs about 60 us per record here (a no-op agent tops out at 16-17k records per CPU-second,
bench/drift/RESULTS.md), more than the drift detection itself.

:class:`BatchConsumer` replaces only the fetcher loop of faust's aiokafka consumer (``_drain_messages``): each
``getmany`` result is delivered as one :class:`faust.types.Message` per partition whose ``value`` is a
:class:`RecordBatch` (the aiokafka records, in offset order) and whose ``offset`` is the batch's last one.
Everything else stays faust's: subscription, rebalance (streams drained, acked offsets committed, the
``on_partitions_*`` signals), flow suspension, the conductor, agents and their supervision, timers. Acking the
batch event acks every offset of the batch, so faust commits an offset only once the whole batch was handled.

Topics read this way must use :data:`BATCH_SERIALIZER` for keys and values (the batch is passed through as is).
Written against faust-streaming 0.15 (its ``_drain_messages``/``getmany`` loop); pinned in pyproject.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.serializers import codecs
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import Message

logger = logging.getLogger(__name__)

#: Codec name of batch topics: the value is the :class:`RecordBatch` the consumer built, unchanged.
BATCH_SERIALIZER = "mlmon-batch"


class _PassThrough(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        raise TypeError("batch topics are read-only")

    def _loads(self, s: bytes) -> Any:
        return s


codecs.register(BATCH_SERIALIZER, _PassThrough())


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """The records of one partition fetched in one poll (aiokafka ``ConsumerRecord``s, offset order)."""

    topic: str
    partition: int
    records: Sequence[Any]

    @property
    def first_offset(self) -> int:
        return int(self.records[0].offset)

    @property
    def last_offset(self) -> int:
        return int(self.records[-1].offset)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.records)


class BatchConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, delivering one message per (partition, poll) carrying a :class:`RecordBatch`."""

    def ack(self, message: Message) -> bool:
        batch = message.value
        if not isinstance(batch, RecordBatch):
            return super().ack(message)
        if message.acked:
            return False
        # ack the batch's whole offset range (offsets missing inside it, e.g. transaction markers, included)
        tp = message.tp
        committed = self._committed_offset[tp]
        if self.app.topics.acks_enabled_for(message.topic):
            index = self._acked_index[tp]
            fresh = [
                o
                for o in range(batch.first_offset, batch.last_offset + 1)
                if (committed is None or o >= committed) and o not in index
            ]
            index.update(fresh)
            self._acked[tp].extend(fresh)
            self._n_acked += len(fresh)
        message.acked = True
        self._unacked_messages.discard(message)
        return True

    async def _drain_messages(self, fetcher: Any) -> None:  # the loop faust's Fetcher service runs
        callback = self.callback
        consumer_should_stop = cast(Any, self)._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        acks_enabled_for = self.app.topics.acks_enabled_for
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                for message in await self._next_batches():
                    if not self.flow_active or message.generation_id != self.app.consumer_generation_id:
                        break  # a rebalance started: faust seeks back to the committed offsets
                    tp, batch = message.tp, message.value
                    r_offset = self._read_offset[tp]
                    if r_offset and batch.first_offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, batch.first_offset)
                    await self.wait_first(callback(message), self.suspend_flow.wait())
                    self._read_offset[tp] = batch.last_offset
                self.diag.unset_flag(CONSUMER_FETCHING)
        except (*self.consumer_stopped_errors, asyncio.CancelledError):
            if self.transport.app.should_stop:
                return  # already stopping
            raise
        except Exception:
            logger.exception("batch fetcher failed")
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _next_batches(self) -> list[Message]:
        """One message per partition of the next poll (faust's ``getmany`` checks, per batch, not per record)."""
        records, active = await self._wait_next_records(1.0)
        await self.sleep(0)
        if not records or self.should_stop:
            return []
        if not self.flow_active:
            await self.perform_seek()
            return []
        generation = self.app.consumer_generation_id
        out: list[Message] = []
        for tp, recs in records.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            r_offset = self._read_offset[tp]
            fresh = [r for r in recs if r_offset is None or r.offset >= r_offset]
            if not fresh:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            last = fresh[-1]
            out.append(
                faust_aiokafka.ConsumerMessage(
                    last.topic,
                    last.partition,
                    last.offset,
                    last.timestamp / 1000.0 if last.timestamp is not None else cast(float, None),
                    last.timestamp_type,
                    [],
                    None,
                    RecordBatch(last.topic, last.partition, fresh),
                    None,
                    0,
                    sum(r.serialized_value_size for r in fresh),
                    tp,
                    generation_id=generation,
                )
            )
        if not self.flow_active or self.app.consumer_generation_id != generation:
            return []  # rebalance started meanwhile: faust seeks back to the committed offsets
        return out


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


def use_batches(app: faust.App) -> None:
    """Make ``app`` consume through :class:`BatchConsumer` (before it starts)."""
    app.transport = BatchTransport(app.conf.broker_consumer, app)
