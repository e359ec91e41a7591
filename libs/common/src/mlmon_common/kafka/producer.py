"""An idempotent producer keyed by ``model_id`` that counts every delivery report."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from mlmon_common.events import Envelope
from mlmon_common.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass
class ProducerStats:
    """Plain counters (read by the Prometheus collector at scrape time; no cost on the hot path)."""

    produced: Counter[str] = field(default_factory=Counter)  # acknowledged, by topic
    failed: Counter[str] = field(default_factory=Counter)  # delivery failed, by topic
    dropped: int = 0  # local queue full and the caller chose not to block


class EventProducer:
    """An idempotent producer that keys events by ``model_id`` and counts every delivery report.

    ``block_when_full=True`` (services) waits for queue space on ``BufferError``; ``False`` (the SDK on a
    model server's request path) drops the event and counts it instead of blocking. ``poll_each=False`` leaves
    serving delivery reports to the caller (the SDK has a poller thread).
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        client_id: str,
        block_when_full: bool = True,
        poll_each: bool = True,
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
        self._kafka = kafka
        self._producer = Producer(cfg)
        self._block = block_when_full
        self._poll_each = poll_each
        self._closed = False
        self.stats = ProducerStats()
        self._failures: list[KafkaError] = []

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        topic = msg.topic() or "?"
        if err is None:
            self.stats.produced[topic] += 1
        else:
            self.stats.failed[topic] += 1
            self._failures.append(err)
            logger.error("delivery failed", extra={"topic": topic, "error": str(err)})

    def send(self, topic: str, event: Envelope, headers: list[tuple[str, bytes]] | None = None) -> bool:
        """Queue one event on ``topic`` (a registry name; the settings' suffix is applied)."""
        return self.produce(self._kafka.topic(topic), event.to_json(), event.key, headers)

    def produce(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> bool:
        """Queue raw bytes on an exact topic name. Returns False if dropped (non-blocking mode, queue full)."""
        while True:
            try:
                self._producer.produce(
                    topic,
                    value,
                    key,
                    headers=headers,  # type: ignore[arg-type]
                    on_delivery=self._on_delivery,
                )
                if self._poll_each:
                    self._producer.poll(0)
                return True
            except BufferError:
                if not self._block:
                    self.stats.dropped += 1
                    return False
                self._producer.poll(0.05)

    def poll(self, timeout: float = 0) -> int:
        return int(self._producer.poll(timeout))

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; returns how many are still queued."""
        return int(self._producer.flush(timeout_s))

    def pending(self) -> int:
        return len(self._producer)

    def take_failures(self) -> list[KafkaError]:
        failures, self._failures = self._failures, []
        return failures

    def close(self, timeout_s: float = 10.0) -> None:
        """Flush, then release the client (its connections and threads). Idempotent."""
        if self._closed:
            return
        left = self.flush(timeout_s)
        if left:
            logger.error("producer closed with undelivered messages", extra={"undelivered": left})
        self._closed = True
        self._producer.close()
