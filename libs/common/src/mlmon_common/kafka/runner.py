"""The one consumer runner every non-faust service uses.

The runner is at-least-once: ``enable.auto.offset.store=False``; a record's offset is stored only after
its batch was handled (or dead-lettered, with the dead-letter write acknowledged by the broker), and the
stored offsets are committed in the background and synchronously on revoke and on shutdown. Handlers must
be idempotent (dedupe by ``event_id``): a crash between handling and commit redelivers the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import ValidationError

from mlmon_common import topics as topics_mod
from mlmon_common.errors import PermanentError, RetryableError
from mlmon_common.events import EVENT_TYPES, Event, decode_event
from mlmon_common.kafka.client_errors import ClientErrorLog
from mlmon_common.kafka.origin import origin_of
from mlmon_common.kafka.producer import EventProducer
from mlmon_common.settings import KafkaSettings
from mlmon_common.topics import Topic

logger = logging.getLogger(__name__)

#: Records larger than this are dead-lettered without being parsed.
MAX_EVENT_BYTES = 1024 * 1024


class Record(NamedTuple):
    """Where a decoded event came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    origin: bytes | None = None  # the ``mlmon.origin`` header of a derived record (see kafka.origin)


class Rejected(NamedTuple):
    """A record a handler refuses permanently; it goes to the dead-letter topic with ``reason``."""

    record: Record
    reason: str
    error_class: str = "PermanentError"


Item = tuple[Event, Record]


class Handler(Protocol):
    """Handles a batch of decoded events; may raise ``RetryableError`` (the whole batch is retried)."""

    def __call__(self, items: Sequence[Item]) -> Sequence[Rejected] | None: ...


def per_event(fn: Callable[[Event, Record], None]) -> Handler:
    """Adapt a per-event function: ``PermanentError``/unexpected errors reject that record only."""

    def handle(items: Sequence[Item]) -> list[Rejected]:
        rejected: list[Rejected] = []
        for event, record in items:
            try:
                fn(event, record)
            except RetryableError:
                raise
            except PermanentError as exc:
                rejected.append(Rejected(record, exc.reason))
            except Exception as exc:
                logger.exception("handler failed", extra={"topic": record.topic, "offset": record.offset})
                rejected.append(Rejected(record, f"handler error: {exc}", type(exc).__name__))
        return rejected

    return handle


@dataclass
class RunnerStats:
    consumed: Counter[str] = field(default_factory=Counter)  # by topic
    handled: Counter[str] = field(default_factory=Counter)
    deadlettered: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, reason class)
    retries: int = 0
    batches: int = 0
    lag: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass
class RunnerHealth:
    started: float = field(default_factory=time.monotonic)
    joined: bool = False
    assignment: list[tuple[str, int]] = field(default_factory=list)
    last_loop: float = 0.0
    retrying_since: float | None = None
    broker_down: bool = False
    stopped: bool = False
    crashed: str | None = None

    def ready(self, stall_after_s: float, now: float | None = None) -> tuple[bool, str]:
        now = time.monotonic() if now is None else now
        if self.crashed:
            return False, f"consumer loop crashed: {self.crashed}"
        if self.stopped:
            return False, "stopped"
        if not self.joined:
            return False, "waiting for partition assignment"
        if self.broker_down:
            return False, "all brokers down"
        if now - self.last_loop > stall_after_s:
            return False, f"consumer loop has not polled for {now - self.last_loop:.0f}s"
        if self.retrying_since is not None and now - self.retrying_since > stall_after_s:
            return False, f"retrying the same records for {now - self.retrying_since:.0f}s"
        return True, "ok"


@dataclass(frozen=True)
class RetryPolicy:
    initial_s: float = 0.2
    max_s: float = 10.0
    deadline_s: float = 300.0

    def delays(self) -> Iterable[float]:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


def _oversized_or_empty(value: bytes | None) -> tuple[str, str]:
    if value is None:
        return "empty record value", "EmptyValue"
    return f"record of {len(value)} bytes exceeds the {MAX_EVENT_BYTES}-byte limit", "PayloadTooLarge"


def summarise(exc: ValidationError) -> str:
    """The first three validation errors as one line (a dead letter's reason)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


class ConsumerRunner:
    """Consume ``topics``, decode with the event contract, hand batches to ``handler``, store offsets."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        service: str,
        topics: Sequence[Topic],
        handler: Handler,
        producer: EventProducer,
        group_id: str | None = None,
        batch_size: int = 500,
        poll_timeout_s: float = 0.02,
        retry: RetryPolicy | None = None,
        stall_after_s: float = 30.0,
        observe: Callable[[float, int], None] | None = None,
        config: dict[str, Any] | None = None,
        decode: Callable[[bytes], Event] = decode_event,
        on_assign: Callable[[list[tuple[str, int]]], None] | None = None,
    ) -> None:
        self.service = service
        self.retry = retry or RetryPolicy()
        self._kafka = kafka
        self._topics = {kafka.topic(t.name): t.event_types or frozenset(EVENT_TYPES) for t in topics}
        self._handler = handler
        self._producer = producer
        self._batch_size = batch_size
        self._poll_timeout = poll_timeout_s
        self._linger_s = kafka.batch_linger_ms / 1000.0
        self._rebalances = 0
        self._observe = observe
        self._decode = decode
        self._assign_hook = on_assign
        self.stall_after_s = stall_after_s
        self.group_id = group_id or f"{kafka.group_prefix}-{service}"
        self.stats = RunnerStats()
        self.health = RunnerHealth()
        self._stop = threading.Event()
        self._dlq_topic = kafka.topic(topics_mod.DEADLETTER.name)
        cfg = kafka.client_config() | {
            "group.id": self.group_id,
            "client.id": f"{service}-consumer",
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 1000,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": kafka.session_timeout_ms,
            "heartbeat.interval.ms": kafka.heartbeat_interval_ms,
            "fetch.wait.max.ms": kafka.fetch_wait_max_ms,
            "max.poll.interval.ms": int(max(300.0, self.retry.deadline_s + 60.0) * 1000),
            "error_cb": self._on_error,
        }
        cfg.update(config or {})
        self._consumer = Consumer(cfg)
        self._last_lag_check = 0.0
        self._error_log = ClientErrorLog(logger)
        self._last_broker_probe = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the current batch, commit and leave. Safe from a signal handler."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def ready(self) -> tuple[bool, str]:
        return self.health.ready(self.stall_after_s)

    def run(self) -> None:
        """The loop; returns after :meth:`stop` (committed, group left, producer flushed)."""
        self._consumer.subscribe(list(self._topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
        logger.info("consumer started", extra={"group": self.group_id, "topics": list(self._topics)})
        try:
            while not self._stop.is_set():
                self.health.last_loop = time.monotonic()
                messages = self._consumer.consume(self._batch_size, self._poll_timeout)
                if messages and self._linger_s > 0:
                    messages = self._fill(messages)
                if messages:
                    self.health.broker_down = False
                    self._process(messages)
                elif self.health.broker_down:
                    self._probe_broker()
                self._maybe_update_lag()
        except Exception as exc:
            self.health.crashed = f"{type(exc).__name__}: {exc}"
            logger.exception("consumer loop crashed")
            raise
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.health.stopped = True
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                logger.warning("final commit failed", extra={"error": str(exc)})
        self._consumer.close()
        self._producer.close()
        logger.info("consumer stopped", extra={"group": self.group_id})

    # -- callbacks -------------------------------------------------------------------------------------

    def _fill(self, messages: list[Message]) -> list[Message]:
        """Under a steady flow, keep filling the batch for up to ``batch_linger_ms``; a poll that returns
        nothing ends it (a trickle waits one more poll, not the linger). Each batch's outputs are flushed and
        acknowledged before its offsets are stored, so batch size sets how many produce requests (and
        broker-side record batches, which every consumer group then fetches) a stream costs."""
        deadline = time.monotonic() + self._linger_s
        rebalances = self._rebalances
        while len(messages) < self._batch_size and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = self._consumer.consume(self._batch_size - len(messages), min(left, self._poll_timeout))
            if not more:
                break
            messages.extend(more)
        if rebalances != self._rebalances:  # partitions revoked while filling: their new owner handles them
            owned = set(self.health.assignment)
            messages = [m for m in messages if m.error() is not None or (m.topic(), m.partition()) in owned]
        return messages

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._rebalances += 1
        self.health.joined = True
        self.health.assignment = [(p.topic, p.partition) for p in partitions]
        logger.info("partitions assigned", extra={"partitions": self.health.assignment})
        if self._assign_hook is not None:
            self._assign_hook(self.health.assignment)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._rebalances += 1
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                logger.warning("commit on revoke failed", extra={"error": str(exc)})
        self.health.assignment = []

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self.health.broker_down = True
        self._error_log(err)

    # -- one batch -------------------------------------------------------------------------------------

    def _process(self, messages: list[Message]) -> None:
        items: list[Item] = []
        bad: list[tuple[Message, str, str]] = []
        first: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}
        consumed: dict[str, int] = {}
        decode, allowed, new_record = self._decode, self._topics, Record._make
        topic: str
        partition: int
        offset: int
        for msg in messages:  # the hot loop: keep per-record work minimal
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    logger.warning("consume error", extra={"error": str(err)})
                continue
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()  # type: ignore[assignment]
            tp = (topic, partition)
            if tp not in first:
                first[tp] = offset
            last[tp] = offset
            consumed[topic] = consumed.get(topic, 0) + 1
            value = msg.value()
            if value is None or len(value) > MAX_EVENT_BYTES:
                bad.append((msg, *_oversized_or_empty(value)))
                continue
            try:
                event = decode(value)
            except ValidationError as exc:
                bad.append((msg, summarise(exc), "ValidationError"))
                continue
            if event.event_type not in allowed[topic]:
                bad.append((msg, f"event_type {event.event_type!r} not allowed on this topic", "WrongEventType"))
                continue
            headers = msg.headers()
            origin = origin_of(headers) if headers else None
            items.append((event, new_record((topic, partition, offset, msg.key(), msg.timestamp()[1], origin))))
        self.stats.consumed.update(consumed)
        if last:
            self._finish(messages, items, bad, first, last)

    def _finish(
        self,
        messages: list[Message],
        items: list[Item],
        bad: list[tuple[Message, str, str]],
        first: dict[tuple[str, int], int],
        last: dict[tuple[str, int], int],
    ) -> None:
        """Handle, dead-letter, wait for acks, then store offsets (or rewind to redo the batch)."""
        rejected = self._handle_with_retry(items) if items else []
        if rejected is None:  # stopping while retrying: nothing stored, the batch is redelivered
            return
        if rejected:
            by_coords = {(m.topic(), m.partition(), m.offset()): m for m in messages}
            bad.extend((by_coords[r.record[:3]], r.reason, r.error_class) for r in rejected)
        self._dead_letter(bad)
        if not self._await_deliveries():
            self._rewind(first)
            return
        self._consumer.store_offsets(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()])
        self.stats.batches += 1
        self.stats.handled.update(r.topic for _, r in items)
        self.stats.handled.subtract(r.record.topic for r in rejected)
        for msg, _reason, error_class in bad:
            self.stats.deadlettered[(msg.topic() or "?", error_class)] += 1

    def _handle_with_retry(self, items: list[Item]) -> list[Rejected] | None:
        started = time.monotonic()
        delays = iter(self.retry.delays())
        while True:
            try:
                t0 = time.perf_counter()
                rejected = list(self._handler(items) or [])
                if self._observe:
                    self._observe(time.perf_counter() - t0, len(items))
                self.health.retrying_since = None
                return rejected
            except RetryableError as exc:
                self.stats.retries += 1
                self.health.retrying_since = self.health.retrying_since or started
                if time.monotonic() - started > self.retry.deadline_s:
                    logger.error("retry deadline exceeded, dead-lettering batch", extra={"error": str(exc)})
                    return [Rejected(r, f"retry deadline exceeded: {exc}", "RetryDeadline") for _, r in items]
                delay = next(delays)
                logger.warning("retryable error, backing off", extra={"error": str(exc), "delay_s": delay})
                self.health.last_loop = time.monotonic()
                if self._stop.wait(delay):
                    return None

    def _dead_letter(self, bad: list[tuple[Message, str, str]]) -> None:
        for msg, reason, error_class in bad:
            headers = [
                (topics_mod.DLQ_REASON, reason.encode()[:4000]),
                (topics_mod.DLQ_ERROR_CLASS, error_class.encode()),
                (topics_mod.DLQ_SOURCE_TOPIC, (msg.topic() or "").encode()),
                (topics_mod.DLQ_SOURCE_PARTITION, str(msg.partition()).encode()),
                (topics_mod.DLQ_SOURCE_OFFSET, str(msg.offset()).encode()),
                (topics_mod.DLQ_SERVICE, self.service.encode()),
            ]
            self._producer.produce(self._dlq_topic, msg.value() or b"", msg.key(), headers)
            logger.warning(
                "dead-lettered",
                extra={
                    "topic": msg.topic(),
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "reason": reason,
                },
            )

    def _await_deliveries(self) -> bool:
        """Everything the batch produced (outputs, dead letters) is acknowledged before offsets are stored."""
        failures = self._producer.take_failures()
        if not failures and not self._producer.pending():
            return True
        deadline = time.monotonic() + self.retry.deadline_s
        while self._producer.flush(1.0):
            self.health.last_loop = time.monotonic()
            if self._stop.is_set() or time.monotonic() > deadline:
                return False
        failures += self._producer.take_failures()
        if failures:
            logger.error("deliveries failed; batch will be processed again", extra={"errors": len(failures)})
        return not failures

    def _rewind(self, first: dict[tuple[str, int], int]) -> None:
        for (topic, partition), offset in first.items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # partition revoked meanwhile: the new owner starts there anyway
                logger.warning("seek failed", extra={"topic": topic, "partition": partition, "error": str(exc)})

    def _probe_broker(self) -> None:
        """While marked down and idle, ask the broker for metadata (every 2 s) so readiness comes back
        when it does, not only when the next record arrives."""
        now = time.monotonic()
        if now - self._last_broker_probe < 2.0:
            return
        self._last_broker_probe = now
        try:
            self._consumer.list_topics(timeout=1.0)
        except KafkaException:
            return
        self.health.broker_down = False
        logger.info("broker reachable again")

    def _maybe_update_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag_check < 5.0 or not self.health.assignment:
            return
        self._last_lag_check = now
        parts = [TopicPartition(t, p) for t, p in self.health.assignment]
        try:
            positions = self._consumer.position(parts)
        except KafkaException:
            return
        for tp in positions:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset != OFFSET_INVALID and high >= 0:
                self.stats.lag[(tp.topic, tp.partition)] = max(0, high - tp.offset)
