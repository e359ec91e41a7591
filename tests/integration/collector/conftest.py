"""Fixtures of the collector integration tests: the service in-process (real broker, real Redis, real HTTP)
and helpers to feed the raw topics and read what the collector published."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer
from fastapi import FastAPI

from mlmon_collector.app import build
from mlmon_collector.config import CollectorConfig
from mlmon_collector.joiner_store import JoinStore
from mlmon_collector.settings import CollectorOptions, CollectorSettings
from mlmon_common.devstack import free_port
from mlmon_common.events import Envelope, decode_event
from mlmon_common.kafka import EventProducer
from mlmon_common.service import ServiceRuntime
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings
from mlmon_common.testing import consume_n, serve_in_thread, unique

API_KEY = "collector-test-key-0123"
AUTH = {"X-API-Key": API_KEY}


@dataclass
class Running:
    url: str
    runtime: ServiceRuntime
    app: FastAPI

    @property
    def join(self) -> JoinStore:
        store: JoinStore = self.app.state.join
        return store


def settings_for(kafka: KafkaSettings, redis_settings: RedisSettings, **options: Any) -> CollectorSettings:
    return CollectorSettings(
        kafka=kafka,
        redis=redis_settings,
        http=HttpSettings(port=free_port(), max_body_bytes=options.pop("max_body_bytes", 64 * 1024)),
        api_key=API_KEY,  # type: ignore[arg-type]
        collector=CollectorOptions(**({"idle_s": 0, "tick_s": 0.2, "sweep_interval_s": 0.2} | options)),
    )


Starter = Callable[..., contextlib.AbstractContextManager[Running]]


@pytest.fixture
def start_collector(kafka: KafkaSettings, redis_settings: RedisSettings) -> Starter:
    """``with start_collector(config, **options) as svc:`` runs a collector until the block ends."""

    @contextlib.contextmanager
    def start(
        config: CollectorConfig | None = None, kafka_settings: KafkaSettings | None = None, **options: Any
    ) -> Iterator[Running]:
        settings = settings_for(kafka_settings or kafka, redis_settings, **options)
        runtime, app = build(settings, config or CollectorConfig())
        with serve_in_thread(app, settings.http.port) as url:
            yield Running(url, runtime, app)

    return start


@pytest.fixture
def send(kafka: KafkaSettings) -> Iterator[Callable[[str, Envelope], None]]:
    """``send(topic_name, event)`` onto a (suffixed) topic, acknowledged at once."""
    producer = EventProducer(kafka, client_id="collector-test-feed")

    def put(topic: str, event: Envelope) -> None:
        producer.send(topic, event)
        assert producer.flush(30) == 0

    yield put
    producer.close()


class Reader:
    """Reads registry topics of the test's Kafka settings from the beginning (throwaway groups)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka

    def read(self, topic: str, n: int, timeout_s: float = 45.0) -> list[Any]:
        """The first ``n`` events of a registry topic (decoded)."""
        return [decode_event(m.value()) for m in consume_n(self.kafka, self.kafka.topic(topic), n, timeout_s=timeout_s)]

    def read_all(self, topic: str, at_least: int, idle_s: float = 1.5, timeout_s: float = 45.0) -> list[Any]:
        return read_all(self.kafka, topic, at_least, idle_s, timeout_s)


@pytest.fixture
def reader(kafka: KafkaSettings) -> Reader:
    return Reader(kafka)


def read_all(
    kafka: KafkaSettings, topic: str, at_least: int, idle_s: float = 1.5, timeout_s: float = 45.0
) -> list[Any]:
    """Every event of a registry topic: at least ``at_least``, then until nothing new came for ``idle_s``."""
    consumer = Consumer(
        kafka.client_config()
        | {
            "group.id": unique("reader-"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": kafka.session_timeout_ms,
            "heartbeat.interval.ms": kafka.heartbeat_interval_ms,
            "fetch.wait.max.ms": kafka.fetch_wait_max_ms,
        }
    )
    consumer.subscribe([kafka.topic(topic)])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while len(out) < at_least or time.monotonic() - last < idle_s:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(out)} of at least {at_least} events from {topic} in {timeout_s}s")
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is None:
                    out.append(decode_event(msg.value()))
                    last = time.monotonic()
    finally:
        consumer.close()
    return out


class Follower:
    """A consumer that stays subscribed; :meth:`poll` adds what arrived to :attr:`events`."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.events: list[Any] = []
        self._consumer = Consumer(
            kafka.client_config()
            | {
                "group.id": unique("follower-"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": kafka.session_timeout_ms,
                "heartbeat.interval.ms": kafka.heartbeat_interval_ms,
                "fetch.wait.max.ms": kafka.fetch_wait_max_ms,
            }
        )
        self._consumer.subscribe([kafka.topic(topic)])

    def poll(self) -> list[Any]:
        for msg in self._consumer.consume(1000, 0.1):
            if msg.error() is None:
                self.events.append(decode_event(msg.value()))
        return self.events

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def follow(kafka: KafkaSettings) -> Iterator[Callable[[str], Follower]]:
    followers: list[Follower] = []

    def make(topic: str) -> Follower:
        followers.append(Follower(kafka, topic))
        return followers[-1]

    yield make
    for f in followers:
        f.close()
