"""Real peers for the alerting tests: an HTTP receiver, an SMTP server (aiosmtpd), the service itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from mlmon_alerting.app import build
from mlmon_alerting.config import parse_config
from mlmon_alerting.settings import AlertingOptions, AlertingSettings
from mlmon_common import topics
from mlmon_common.devstack import free_port
from mlmon_common.events import MetricsEvent, utcnow
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, serve_in_thread, unique, wait_for

API_KEY = "test-key-0123456789"
FAST = AlertingOptions(
    retry_initial_s=0.2, retry_factor=2.0, retry_max_s=1.0, delivery_lease_s=5.0, tick_max_s=0.2, sse_heartbeat_s=0.5
)


@pytest.fixture
def http_receiver() -> Iterator[HttpSink]:
    """A real HTTP receiver recording every POST; set ``status`` (e.g. 503) to make it fail."""
    with HttpSink() as sink:
        yield sink


@dataclass
class SmtpSink:
    port: int
    messages: list[Message] = field(default_factory=list)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            sink.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def settings_for(
    kafka: KafkaSettings, redis_settings: RedisSettings, port: int, options: AlertingOptions = FAST
) -> AlertingSettings:
    return AlertingSettings(
        env="test",
        kafka=kafka,
        redis=redis_settings,
        http=HttpSettings(port=port),
        api_key=API_KEY,  # type: ignore[arg-type]
        alerting=options,
    )


@contextmanager
def running_service(
    kafka: KafkaSettings, redis_settings: RedisSettings, config_yaml: str, options: AlertingOptions = FAST
) -> Iterator[tuple[str, Any]]:
    """The alerting service in this process over real HTTP; yields (base URL, its parts), ready."""
    port = free_port()
    runtime, app = build(settings_for(kafka, redis_settings, port, options), parse_config(config_yaml))
    with serve_in_thread(app, port) as url:
        wait_for(lambda: runtime.probes.ready()[0], 30, "alerting consumer assigned")
        yield url, app.state.alerting


def metrics(model_id: str, accuracy: float, **values: float) -> MetricsEvent:
    now = utcnow()
    return MetricsEvent(
        model_id=model_id,
        window_start=now - timedelta(minutes=1),
        window_end=now,
        values={"accuracy": accuracy, **values},
    )


def send(kafka: KafkaSettings, *events: Any, topic: str = topics.METRICS.name) -> None:
    producer = EventProducer(kafka, client_id="alerting-test")
    try:
        for event in events:
            producer.send(topic, event)
        assert producer.flush(10) == 0
    finally:
        producer.close()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"{unique('cfg')}.yml"
    path.write_text(text)
    return path
