"""Delivery of outbox records over HTTP (httpx) and SMTP (smtplib), with retry and backoff.

Errors are split like Alertmanager's ``notify`` "recoverable" flag: :class:`RecoverableError` (timeouts,
connection errors, HTTP 408/425/429/5xx, SMTP 4xx) is retried with exponential backoff;
:class:`PermanentError` (other 4xx, SMTP 5xx, bad config) is not. Secrets come from the config here,
never from the outbox. Clocks and sleeps are injected so tests never wait.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from mlmon_alerting.config import EmailConfig, Receiver
from mlmon_alerting.notify.outbox import Backoff, OutboxRecord
from mlmon_alerting.notify.render import build_email

logger = logging.getLogger(__name__)

RECOVERABLE_STATUS = frozenset({408, 425, 429})
IDEMPOTENCY_HEADER = "Idempotency-Key"
SmtpFactory = Callable[..., smtplib.SMTP]


class DeliveryError(Exception):
    """A failed delivery; ``recoverable`` says whether retrying may help."""

    recoverable = False


class RecoverableError(DeliveryError):
    recoverable = True


class PermanentError(DeliveryError):
    recoverable = False


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0


def sign(secret: str, body: bytes) -> str:
    """The webhook signature header value: ``sha256=<hex HMAC-SHA256 of the raw body>``.

    >>> sign("s3cret", b'{"a":1}')
    'sha256=5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of a signature header (what a receiver does)."""
    return hmac.compare_digest(sign(secret, body), header)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def build_request(record: OutboxRecord, receiver: Receiver) -> HttpRequest:
    """The HTTP request for an HTTP integration's record (URL, secrets and signature from config)."""
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: record.idempotency_key}
    i = record.index
    try:
        if record.integration == "slack":
            s = receiver.slack_configs[i]
            return HttpRequest("POST", s.api_url.get_secret_value(), _json(record.payload), headers, s.timeout)
        if record.integration == "webhook":
            w = receiver.webhook_configs[i]
            body = _json(record.payload)
            if w.hmac_secret is not None:
                headers[w.signature_header] = sign(w.hmac_secret.get_secret_value(), body)
            return HttpRequest("POST", w.url, body, headers, w.timeout)
        if record.integration == "pagerduty":
            p = receiver.pagerduty_configs[i]
            assert isinstance(record.payload, dict)
            payload = {"routing_key": p.routing_key.get_secret_value(), **record.payload}
            return HttpRequest("POST", p.url, _json(payload), headers, p.timeout)
        if record.integration == "alertmanager":
            m = receiver.alertmanager_configs[i]
            return HttpRequest("POST", m.url.rstrip("/") + "/api/v2/alerts", _json(record.payload), headers, m.timeout)
    except IndexError:
        raise PermanentError(f"receiver {receiver.name!r} has no {record.integration}_configs[{i}]") from None
    raise PermanentError(f"integration {record.integration!r} is not an HTTP integration")


def classify_status(status: int, body: str = "") -> None:
    """Raise the right error for a non-2xx status; return for 2xx."""
    if 200 <= status < 300:
        return
    msg = f"HTTP {status}: {body[:200]}"
    if status >= 500 or status in RECOVERABLE_STATUS:
        raise RecoverableError(msg)
    raise PermanentError(msg)


def send_http(client: httpx.Client, request: HttpRequest) -> None:
    """One attempt; raises :class:`RecoverableError` or :class:`PermanentError` on failure."""
    try:
        resp = client.request(
            request.method, request.url, content=request.body, headers=request.headers, timeout=request.timeout
        )
    except httpx.TimeoutException as exc:
        raise RecoverableError(f"timeout: {exc}") from exc
    except httpx.TransportError as exc:
        raise RecoverableError(f"transport error: {type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise PermanentError(f"{type(exc).__name__}: {exc}") from exc
    classify_status(resp.status_code, resp.text)


def send_email(record: OutboxRecord, cfg: EmailConfig, smtp_factory: SmtpFactory | None = None) -> None:
    """One SMTP attempt (STARTTLS / implicit TLS / auth per config)."""
    assert isinstance(record.payload, dict)
    msg = build_email(record.payload, record.idempotency_key)
    host, port = cfg.smarthost.rsplit(":", 1)
    factory = smtp_factory or (smtplib.SMTP_SSL if cfg.tls else smtplib.SMTP)
    try:
        with factory(host, int(port), local_hostname=cfg.hello, timeout=cfg.timeout) as smtp:
            if cfg.starttls and not cfg.tls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.auth_username and cfg.auth_password is not None:
                smtp.login(cfg.auth_username, cfg.auth_password.get_secret_value())
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        err = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        raise (RecoverableError(err) if 400 <= exc.smtp_code < 500 else PermanentError(err)) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentError(f"SMTP server does not support a required extension: {exc}") from exc
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
        raise RecoverableError(f"SMTP connection: {type(exc).__name__}: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise PermanentError(f"SMTP: {type(exc).__name__}: {exc}") from exc


def deliver(
    record: OutboxRecord, receiver: Receiver, client: httpx.Client, smtp_factory: SmtpFactory | None = None
) -> None:
    """One delivery attempt of any integration."""
    if record.integration == "email":
        try:
            cfg = receiver.email_configs[record.index]
        except IndexError:
            raise PermanentError(f"receiver {receiver.name!r} has no email_configs[{record.index}]") from None
        send_email(record, cfg, smtp_factory)
    else:
        send_http(client, build_request(record, receiver))


def attempt(
    record: OutboxRecord,
    receiver: Receiver,
    now: datetime,
    client: httpx.Client,
    policy: Backoff | None = None,
    smtp_factory: SmtpFactory | None = None,
) -> OutboxRecord:
    """One outbox step: deliver, and return the record updated (delivered, retry later, or failed)."""
    if record.status != "pending":
        return record
    try:
        deliver(record, receiver, client, smtp_factory)
    except DeliveryError as exc:
        logger.warning(
            "delivery of %s to %s/%s failed (recoverable=%s): %s",
            record.key, record.receiver, record.integration, exc.recoverable, exc,
        )  # fmt: skip
        return record.failed_attempt(str(exc), now, recoverable=exc.recoverable, policy=policy or Backoff())
    return record.delivered(now)


def send_with_retry(
    send: Callable[[], None],
    *,
    policy: Backoff | None = None,
    max_attempts: int = 5,
    sleep: Callable[[float], None],
) -> int:
    """Call ``send`` until it succeeds, retrying :class:`RecoverableError` errors with backoff.

    Returns the number of attempts; re-raises a :class:`PermanentError` error at once and the last
    :class:`RecoverableError` one after ``max_attempts``. ``sleep`` is injected (tests pass a recorder).
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    policy = policy or Backoff()
    for n in range(1, max_attempts + 1):
        try:
            send()
            return n
        except RecoverableError:
            if n == max_attempts:
                raise
            sleep(policy.delay(n))
    raise AssertionError("unreachable")
