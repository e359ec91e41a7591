"""Helpers for tests and benchmarks against a real broker and Redis (no pytest dependency).

Bounded waits only: every helper takes a timeout and raises ``TimeoutError`` naming what it waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, Message

from mlmon_common import topics
from mlmon_common.kafka.admin import ensure_topics
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.topics import Topic

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


def isolated_kafka(bootstrap: str, create: Sequence[Topic] = topics.ALL) -> KafkaSettings:
    """Kafka settings of one test (or module) on a shared broker: a unique topic suffix and group prefix, short
    group timeouts (quick joins on the dev broker); the ``create`` registry topics are created now (``()`` for
    a broker that is not up yet)."""
    settings = KafkaSettings(
        bootstrap=bootstrap,
        topic_suffix=unique(""),
        group_prefix=unique("g"),
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    if create:
        ensure_topics(settings, create)
    return settings


def drop_keys(client: Any, prefix: str) -> int:
    """Delete every Redis key under ``prefix`` (a test's own key prefix); returns how many."""
    keys = list(client.scan_iter(match=prefix + "*", count=10_000))
    for i in range(0, len(keys), 10_000):  # one DEL per 10k keys: a bench leaves hundreds of thousands
        client.delete(*keys[i : i + 10_000])
    return len(keys)


def service_env(kafka: KafkaSettings, redis: RedisSettings | None = None, **extra: str) -> dict[str, str]:
    """The environment of a service process started by a test: this process's environment, the test's broker,
    topic suffix and group prefix with short group timeouts (quick joins on the dev broker), its Redis and key
    prefix, ``MLMON_ENV=test``; ``extra`` (``MLMON_...`` names) wins."""
    env = {
        **os.environ,
        "MLMON_ENV": "test",
        "MLMON_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "MLMON_KAFKA_TOPIC_SUFFIX": kafka.topic_suffix,
        "MLMON_KAFKA_GROUP_PREFIX": kafka.group_prefix,
        "MLMON_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "MLMON_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    }
    if redis is not None:
        env |= {"MLMON_REDIS_URL": redis.url.get_secret_value(), "MLMON_REDIS_KEY_PREFIX": redis.key_prefix}
    return env | extra


@dataclass(frozen=True)
class Received:
    """One request an :class:`HttpSink` got: path, headers (lower-case names), body, and how it went."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the sink answered
    answered: bool = False  # the answer reached the client (it had not given up)
    at: float = 0.0  # wall-clock time it arrived (time.time())

    def json(self) -> Any:
        return json.loads(self.body)


class HttpSink:
    """A real loopback HTTP server (a notification receiver, a webhook) that records every POST.

    ``answer(request) -> status`` decides each reply; it may block (a slow receiver) or act (stop Redis
    mid-request). Without it the sink answers :attr:`status` (set 503 to make it "down"). :attr:`requests`
    are the deliveries: requests answered 2xx whose answer reached the client; :attr:`attempts` counts every
    request. Use as a context manager (``with HttpSink() as sink``); ``url`` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, answer: Callable[[Received], int] | None = None, port: int = 0) -> None:
        self.status = 200
        self.lock = threading.Lock()
        self._answer = answer or (lambda _request: self.status)
        self._log: list[Received] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, at=at)
                status = sink._answer(request)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    answered = True
                except OSError:  # the client gave up (timeout) before the answer
                    answered = False
                with sink.lock:
                    sink._log.append(Received(request.path, request.headers, body, status, answered, at))

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def attempts(self) -> int:
        with self.lock:
            return len(self._log)

    @property
    def log(self) -> list[Received]:
        """Every request so far, answered or not."""
        with self.lock:
            return list(self._log)

    @property
    def requests(self) -> list[Received]:
        """The deliveries: answered 2xx, and the answer reached the client."""
        return [r for r in self.log if r.answered and r.status < 300]

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


class ServiceProcess:
    """A service run as a real child process (``python -m <module>``) for kill -9 / restart tests.

    A fresh free port is taken at each :meth:`start` unless ``port`` is given; ``log`` collects stdout/stderr
    of every run (its tail is in the error when the process dies before it is ready).
    """

    def __init__(self, module: str, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.module = module
        self.env = env
        self.log = log
        self.port = port
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> str:
        """Start the process without waiting for readiness (several can start in parallel); returns its URL."""
        from mlmon_common.devstack import free_port

        port = self.port or free_port()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**self.env, "MLMON_HTTP_PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def start(self, ready_timeout_s: float = 60.0) -> str:
        """Launch and wait until ``/readyz`` answers 200."""
        self.launch()
        wait_for(self.ready, ready_timeout_s, f"{self.module} ready at {self.url}")
        return self.url

    def ready(self) -> bool:
        assert self.proc is not None, "not started"
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.module} exited with {self.proc.returncode}: {self.tail()}")
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as resp:  # noqa: S310 - loopback
                return bool(resp.status == 200)
        except OSError:
            return False

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill9(self, timeout_s: float = 30.0) -> None:
        assert self.proc is not None, "not started"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        return self.proc.returncode
