"""Real notification peers for the whole-stack test: an SMTP server (aiosmtpd) and an HTTP webhook receiver,
both threads of the test process on loopback, recording what the alerting service sends them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest

from mlmon_common.devstack import free_port
from mlmon_common.testing import HttpSink


@dataclass
class SmtpSink:
    """Every email the SMTP server accepted."""

    port: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    _messages: list[Message] = field(default_factory=list)

    @property
    def messages(self) -> list[Message]:
        with self.lock:
            return list(self._messages)

    def texts(self) -> list[str]:
        """Subject and body of each message (multipart bodies joined)."""
        out = []
        for msg in self.messages:
            parts = [p.get_payload(decode=True) or b"" for p in msg.walk() if not p.is_multipart()]
            body = "\n".join(p.decode("utf-8", "replace") for p in parts if isinstance(p, bytes))
            out.append(f"{msg['Subject']}\n{body}")
        return out


class WebhookSink(HttpSink):
    """Every JSON body POSTed to the receiver (answered 200); ``url`` ends in ``/hook``."""

    def __enter__(self) -> WebhookSink:
        super().__enter__()
        self.url = f"{self.url}/hook"
        return self

    @property
    def bodies(self) -> list[Any]:
        out = []
        for r in self.requests:
            try:
                out.append(r.json())
            except ValueError:
                out.append({"unparsed": r.body.decode("utf-8", "replace")})
        return out

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        """The alerts of every payload (Alertmanager webhook shape: ``alerts[].labels``), optionally by status."""
        found = [{**a, "status": a.get("status", b.get("status"))} for b in self.bodies for a in b.get("alerts", [])]
        return [a for a in found if status is None or a["status"] == status]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with sink.lock:
                sink._messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink
