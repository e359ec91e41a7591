"""Helpers for tests and benchmarks against a real broker and Redis (no pytest dependency).

Bounded waits only: every helper takes a timeout and raises ``TimeoutError`` naming what it waited for.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, Message

from mlmon_common.settings import KafkaSettings

T = TypeVar("T")


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def consume_n(
    kafka: KafkaSettings, topic: str, n: int, timeout_s: float = 30.0, group: str | None = None
) -> list[Message]:
    """Read ``n`` records of ``topic`` from the beginning (a throwaway group), or raise ``TimeoutError``."""
    consumer = Consumer(
        kafka.client_config()
        | {
            "group.id": group or unique("reader-"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": kafka.session_timeout_ms,
            "heartbeat.interval.ms": kafka.heartbeat_interval_ms,
            "fetch.wait.max.ms": kafka.fetch_wait_max_ms,
        }
    )
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(out)} of {n} records from {topic} in {timeout_s}s")
            for msg in consumer.consume(min(1000, n - len(out)), 0.2):
                err = msg.error()
                if err is None:
                    out.append(msg)
                elif err.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"consume error on {topic}: {err}")
    finally:
        consumer.close()
    return out


@contextmanager
def serve_in_thread(app: Any, port: int, host: str = "127.0.0.1", timeout_s: float = 30.0) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread (lifespan included); yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout_s, f"HTTP server on port {port}")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
