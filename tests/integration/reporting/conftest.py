"""Fixtures of the reporting integration tests: the service in-process (real broker, real Redis, real HTTP)."""

from __future__ import annotations

import email
import socketserver
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from mlmon_common import topics
from mlmon_common.devstack import free_port
from mlmon_common.events import Envelope
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings
from mlmon_common.testing import serve_in_thread, wait_for
from mlmon_reporting.app import build
from mlmon_reporting.settings import ReportingOptions, ReportingSettings

TOPIC_OF = {
    "metrics": topics.METRICS,
    "drift": topics.DRIFT,
    "resource": topics.RESOURCES,
    "alert": topics.ALERTS,
    "maintenance": topics.MAINTENANCE,
}


@dataclass
class Service:
    app: FastAPI
    url: str
    http: httpx.Client
    producer: EventProducer

    def publish(self, events: Sequence[Envelope]) -> None:
        for ev in events:
            self.producer.send(TOPIC_OF[ev.event_type].name, ev)  # type: ignore[attr-defined]
        assert self.producer.flush(30) == 0

    def wait_ready(self) -> None:
        wait_for(lambda: self.http.get("/readyz").status_code == 200, 30, "reporting ready")


ServiceFactory = Callable[..., Service]


@pytest.fixture
def reporting_service(
    kafka: KafkaSettings, redis_settings: RedisSettings, redis_client: object, tmp_path: Path
) -> Iterator[ServiceFactory]:
    started: list[tuple[object, httpx.Client, EventProducer]] = []

    def start(config: dict[str, object] | None = None, **options: object) -> Service:
        path = tmp_path / "mlmon.yml"
        path.write_text(yaml.safe_dump({"reporting": config or {}}))
        opts = {"rollup_interval_s": 1.0, "forecast_interval_s": 3600, "report_check_interval_s": 3600} | options
        settings = ReportingSettings(
            kafka=kafka,
            redis=redis_settings,
            http=HttpSettings(port=free_port()),
            config=path,
            reporting=ReportingOptions.model_validate(opts),
        )
        _runtime, app = build(settings)
        ctx = serve_in_thread(app, settings.http.port)
        url = ctx.__enter__()
        client = httpx.Client(base_url=url, timeout=30)
        producer = EventProducer(kafka, client_id="reporting-test")
        started.append((ctx, client, producer))
        svc = Service(app, url, client, producer)
        svc.wait_ready()
        return svc

    yield start
    for ctx, client, producer in reversed(started):
        client.close()
        producer.close()
        ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


class _Handler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 sink ESMTP")
        while line := self.rfile.readline():
            cmd = line.decode().strip().upper()
            if cmd.startswith(("EHLO", "HELO")):
                self._say("250 sink")
            elif cmd.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                self._say("250 ok")
            elif cmd == "DATA":
                self._say("354 end with .")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.messages.append(email.message_from_bytes(b"".join(data)))
                self._say("250 queued")
            elif cmd == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[Message] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> SmtpSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink
