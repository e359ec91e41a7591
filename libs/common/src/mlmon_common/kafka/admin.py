"""Topic administration: create the registry's topics, wait for the broker."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from mlmon_common.settings import KafkaSettings
from mlmon_common.topics import Topic


def ensure_topics(kafka: KafkaSettings, wanted: Iterable[Topic], timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet (suffix from settings applied); returns the created names."""
    admin = AdminClient(kafka.client_config())
    new = [
        NewTopic(kafka.topic(t.name), num_partitions=t.partitions, replication_factor=-1, config=dict(t.config))
        for t in wanted
    ]
    created: list[str] = []
    for name, future in admin.create_topics(new, operation_timeout=timeout_s, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def wait_for_broker(kafka: KafkaSettings, timeout_s: float = 30.0) -> None:
    """Block until the broker answers a metadata request, or raise ``TimeoutError``."""
    admin = AdminClient(kafka.client_config())
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=2)
            return
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka at {kafka.bootstrap} did not answer within {timeout_s}s") from exc
            time.sleep(0.2)
