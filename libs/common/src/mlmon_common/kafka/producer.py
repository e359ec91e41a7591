"""An idempotent producer keyed by ``model_id`` that counts every delivery report and replaces its client when
the broker no longer knows the client's producer id.

An idempotent librdkafka producer whose producer id the broker has lost (a broker that kept no state across a
restart, as the embedded dev broker does; producer-id expiry on an idle producer with Apache Kafka) either
fails with a fatal error or retries for ever inside librdkafka. :class:`EventProducer` then *replaces* the
client: the old one is purged without blocking, its undelivered messages are reported as failed (callers
retry their batch: at-least-once) or, with ``requeue_on_reset=True``, produced again on the new client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from mlmon_common.events import Envelope
from mlmon_common.kafka.client_errors import ClientErrorLog
from mlmon_common.settings import KafkaSettings

logger = logging.getLogger(__name__)

#: Errors after which an idempotent producer never recovers by itself (besides any ``err.fatal()``).
PRODUCER_STATE_ERRORS = frozenset(
    {
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError._FATAL,
    }
)
#: Delivery errors of messages purged from a replaced client.
PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
#: A replaced client is kept (and purged again) this long, for a produce() that raced with the replacement.
RETIRE_GRACE_S = 5.0
#: Why a client is replaced when every broker went away (its replacement is born in that outage).
ALL_BROKERS_DOWN = "all brokers down"
#: flush() waits in slices this long, so that a replacement found while flushing takes effect at once.
FLUSH_SLICE_S = 0.5

#: A message to produce again: topic, value, key, headers (as the delivery report gave them).
Resend = tuple[str, bytes | None, bytes | None, Any]


def needs_new_client(err: KafkaError) -> bool:
    """True for an error after which the idempotent producer must be replaced (its producer state is broken).

    >>> needs_new_client(KafkaError(KafkaError.UNKNOWN_PRODUCER_ID))
    True
    >>> needs_new_client(KafkaError(KafkaError._MSG_TIMED_OUT))
    False
    """
    return bool(err.fatal()) or err.code() in PRODUCER_STATE_ERRORS


@dataclass
class Generation:
    """One underlying client. Decides whether losing every broker makes its producer id suspect.

    A broker that comes back without its state hands the same producer ids out again; a client that held one
    before the outage would then write with another producer's id (the broker may even acknowledge its records
    as duplicates without storing them). So a client that may have held an id is replaced when every broker is
    down. A client created *during* an outage keeps reporting that outage itself (librdkafka repeats "all
    brokers down" every few seconds while it retries): it is replaced only once it has shown it was connected
    (an acknowledged message) or is older than ``settle_s`` — long outages replace it about once per
    ``settle_s``, which loses nothing.

    >>> g = Generation(1, born_in_outage=True, born=100.0)
    >>> g.all_brokers_down(now=110.0), g.all_brokers_down(now=100.0 + Generation.settle_s)
    (False, True)
    """

    #: How long a client born in an outage ignores "all brokers down" when it has not delivered anything.
    settle_s: ClassVar[float] = 30.0

    number: int
    born_in_outage: bool = False
    born: float = field(default_factory=time.monotonic)
    acked: int = 0

    def all_brokers_down(self, now: float | None = None) -> bool:
        """True if this client may hold a producer id that a broker losing its state hands out again."""
        if self.acked > 0 or not self.born_in_outage:
            return True
        return (time.monotonic() if now is None else now) - self.born >= self.settle_s


@dataclass
class ProducerStats:
    """Plain counters (read by the Prometheus collector at scrape time; no cost on the hot path)."""

    produced: Counter[str] = field(default_factory=Counter)  # acknowledged, by topic
    failed: Counter[str] = field(default_factory=Counter)  # delivery failed, by topic
    dropped: int = 0  # local queue full and the caller chose not to block
    resets: int = 0  # clients replaced (lost producer id, fatal error, every broker down)
    resent: int = 0  # messages of a replaced client produced again (requeue_on_reset=True)


class EventProducer:
    """An idempotent producer that keys events by ``model_id`` and counts every delivery report.

    ``block_when_full=True`` (services) waits for queue space on ``BufferError``; ``False`` (the SDK on a
    model server's request path) drops the event and counts it instead of blocking. ``poll_each=False`` leaves
    serving delivery reports to the caller (the SDK has a poller thread). ``requeue_on_reset=True`` (the SDK,
    which keeps no buffer of its own) produces the messages of a replaced client again instead of reporting
    them as failed.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        client_id: str,
        block_when_full: bool = True,
        poll_each: bool = True,
        requeue_on_reset: bool = False,
        config: dict[str, Any] | None = None,
    ) -> None:
        cfg = kafka.client_config() | {
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": 8 * 1024 * 1024,
        }
        cfg.update(config or {})
        self._cfg = cfg
        self._kafka = kafka
        self._block = block_when_full
        self._poll_each = poll_each
        self._requeue = requeue_on_reset
        self._closed = False
        self.stats = ProducerStats()
        self._failures: list[KafkaError] = []
        self._error_log = ClientErrorLog(logger)
        self._lock = threading.Lock()  # replacement and draining only; never taken on the hot path
        self._reset_reason: str | None = None
        self._retired: list[tuple[Producer, float]] = []
        self._resend: deque[Resend] = deque()
        self._gen = Generation(0)
        self._producer = self._client(self._gen)

    # -- the client and its callbacks ------------------------------------------------------------------

    def _client(self, gen: Generation) -> Producer:
        produced = self.stats.produced

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is None:  # the hot path
                produced[msg.topic() or "?"] += 1
                gen.acked += 1
            else:
                self._on_failure(gen, err, msg)

        def on_error(err: KafkaError) -> None:
            self._on_error(gen, err)

        return Producer(self._cfg | {"on_delivery": on_delivery, "error_cb": on_error})

    def _on_failure(self, gen: Generation, err: KafkaError, msg: Message) -> None:
        topic = msg.topic() or "?"
        code = err.code()
        if needs_new_client(err):
            self._replace_later(gen, f"delivery failed: {err.name()}")
        if self._requeue and not self._closed and (code in PURGED or needs_new_client(err)):
            self._resend.append((topic, msg.value(), msg.key(), msg.headers()))
            return
        self.stats.failed[topic] += 1
        self._failures.append(err)
        if code not in PURGED:  # purges are logged once, by the replacement
            logger.error("delivery failed", extra={"topic": topic, "error": str(err)})

    def _on_error(self, gen: Generation, err: KafkaError) -> None:
        if gen is not self._gen:
            return  # a replaced client's last words
        if needs_new_client(err):
            logger.error("producer client failed", extra={"error": str(err), "fatal": bool(err.fatal())})
            self._replace_later(gen, f"client error: {err.name()}")
        else:
            self._error_log(err)
            if err.code() == KafkaError._ALL_BROKERS_DOWN and gen.all_brokers_down():
                self._replace_later(gen, ALL_BROKERS_DOWN)

    def _replace_later(self, gen: Generation, reason: str) -> None:
        """Called from librdkafka callbacks, which must not close their own client: flag it, replace after."""
        if gen is self._gen and self._reset_reason is None:
            self._reset_reason = reason

    # -- replacement -----------------------------------------------------------------------------------

    def _maintain(self) -> None:
        """Replace a flagged client, serve the replaced ones, produce again what they gave back."""
        if self._reset_reason is not None:
            self._replace()
        if self._retired or self._resend:
            with self._lock:
                self._drain_retired(0.0)
                self._requeue_resend()

    def _replace(self) -> None:
        with self._lock:
            reason = self._reset_reason
            if reason is None or self._closed:
                return
            old = self._producer
            self._gen = Generation(self._gen.number + 1, born_in_outage=reason == ALL_BROKERS_DOWN)
            self._producer = self._client(self._gen)
            self._reset_reason = None
            self.stats.resets += 1
            undelivered = len(old)
            old.purge(in_queue=True, in_flight=True, blocking=False)
            self._retired.append((old, time.monotonic()))
        logger.warning(
            "producer client replaced",
            extra={
                "client": self._cfg.get("client.id"),
                "reason": reason,
                "resets": self.stats.resets,
                "undelivered": undelivered,
                "then": "produced again" if self._requeue else "reported as failed",
            },
        )

    def _drain_retired(self, wait_s: float) -> None:
        """Purge replaced clients again (a produce() may have raced the swap), serve their delivery reports,
        close them once empty and past the grace period. Caller holds the lock."""
        now = time.monotonic()
        for entry in list(self._retired):
            old, since = entry
            old.purge(in_queue=True, in_flight=True, blocking=False)
            if wait_s > 0:
                old.flush(wait_s)
            else:
                old.poll(0)
            if not len(old) and now - since >= RETIRE_GRACE_S:
                self._retired.remove(entry)
                old.close()

    def _requeue_resend(self) -> None:
        """Produce again, on the current client, the messages a replaced client gave back. Caller holds the lock."""
        while self._resend:
            topic, value, key, headers = self._resend[0]
            try:
                self._producer.produce(topic, value, key, headers=headers)
            except BufferError:
                return  # the queue is full: the rest waits for the next poll
            self._resend.popleft()
            self.stats.resent += 1

    # -- producing -------------------------------------------------------------------------------------

    def send(self, topic: str, event: Envelope, headers: list[tuple[str, bytes]] | None = None) -> bool:
        """Queue one event on ``topic`` (a registry name; the settings' suffix is applied)."""
        return self.produce(self._kafka.topic(topic), event.to_json(), event.key, headers)

    def produce(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> bool:
        """Queue raw bytes on an exact topic name. Returns False if dropped (non-blocking mode, queue full)."""
        while True:
            if self._poll_each:  # before, not after: a client error is served before the next message
                self._producer.poll(0)
            if self._reset_reason is not None or self._retired or self._resend:
                self._maintain()
            producer = self._producer
            try:
                producer.produce(topic, value, key, headers=headers)  # type: ignore[arg-type]
                return True
            except BufferError:
                if not self._block:
                    self.stats.dropped += 1
                    return False
                self.poll(0.05)
            except KafkaException as exc:  # a fatal client refuses every produce: replace it, then retry
                if not needs_new_client(exc.args[0]):
                    raise
                self._replace_later(self._gen, f"produce failed: {exc.args[0].name()}")
                self._maintain()
            except RuntimeError:  # "Producer has been closed": raced with a replacement
                if producer is self._producer:
                    raise

    def poll(self, timeout: float = 0) -> int:
        served = int(self._producer.poll(timeout))
        self._maintain()
        return served

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; returns how many are still queued.

        A client replaced meanwhile has its undelivered messages reported as failed (``take_failures``) or,
        with ``requeue_on_reset``, queued again on the new client, which this then waits for.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self._maintain()
            self._producer.flush(max(0.0, min(FLUSH_SLICE_S, deadline - time.monotonic())))
            if self._retired:
                with self._lock:
                    self._drain_retired(min(0.1, max(0.0, deadline - time.monotonic())))
            self._maintain()
            left = self.pending()
            if not left or time.monotonic() >= deadline:
                return left

    def pending(self) -> int:
        """Messages not yet acknowledged: queued, in flight, or waiting to be produced again."""
        retired = sum(len(p) for p, _ in self._retired) if self._retired else 0
        return len(self._producer) + retired + len(self._resend)

    def take_failures(self) -> list[KafkaError]:
        failures, self._failures = self._failures, []
        return failures

    @property
    def generation(self) -> int:
        """How many times the client was replaced (0: the original client)."""
        return self._gen.number

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, then release the client (its connections and threads). Idempotent; never blocks for longer
        than ``timeout_s`` (what is still undelivered by then is purged and reported as failed)."""
        if self._closed:
            return
        left = self.flush(timeout_s)
        with self._lock:
            self._closed = True
            clients = [self._producer, *(p for p, _ in self._retired)]
            self._retired.clear()
        if left:
            logger.error("producer closed with undelivered messages", extra={"undelivered": left})
        for client in clients:
            client.purge(in_queue=True, in_flight=True, blocking=False)
            client.flush(1.0)  # serves the purge reports: counted as failed
            client.close()
