"""Payload renderers, outbox records, delivery error classification, retry with backoff, pending marks."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from mlmon_alerting.config import parse_config
from mlmon_alerting.grouping import Notification
from mlmon_alerting.notify.outbox import Backoff, OutboxRecord, idempotency_key
from mlmon_alerting.notify.render import (
    alertmanager_payload,
    build_email,
    pagerduty_dedup_key,
    render_all,
    text,
    title,
    webhook_payload,
)
from mlmon_alerting.notify.send import (
    PermanentError,
    RecoverableError,
    attempt,
    build_request,
    classify_status,
    send_with_retry,
    sign,
    verify,
)
from mlmon_alerting.notify.worker import DeliveryWorker, PendingMarks
from mlmon_common.errors import RetryableError

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CFG = parse_config(
    """
route: {receiver: all}
receivers:
  - name: all
    email_configs: [{to: [oncall@example.com], from: mlmon@example.com, smarthost: 'smtp.example.com:587',
                     auth_username: u, auth_password: '${PW}'}]
    slack_configs: [{api_url: '${SLACK}', channel: '#ml', send_resolved: false}]
    webhook_configs: [{url: 'https://hooks.example.com/x', hmac_secret: '${HMAC}'}]
    pagerduty_configs: [{routing_key: '${PD}'}]
    alertmanager_configs: [{url: 'http://127.0.0.1:9093/'}]
""",
    env={"PW": "pw", "SLACK": "https://hooks.slack.com/services/T/B/secret", "HMAC": "s3cret", "PD": "rk"},
)
RECEIVER = CFG.receivers[0]


def alert(fp: str, status: str, severity: int = 1, model: str = "churn") -> dict[str, Any]:
    return {
        "fingerprint": fp,
        "alertname": "ModelAccuracyLow",
        "labels": {"alertname": "ModelAccuracyLow", "model_id": model, "severity": "critical"},
        "annotations": {"summary": f"{model}: accuracy low", "runbook": "https://mlmon.dev/rb"},
        "status": status,
        "severity": severity,
        "value": 0.5,
        "starts_at": "2026-11-27T09:00:00+00:00",
        "ends_at": "2026-11-27T09:10:00+00:00" if status == "resolved" else None,
    }


def note(*alerts: dict[str, Any], status: str = "firing") -> Notification:
    return Notification(
        receiver="all", route_id="route", group_key="route:{model_id='churn'}", group_labels={"model_id": "churn"},
        status=status, alerts=list(alerts), created_at=T0, idempotency_key="k" * 32,  # type: ignore[arg-type]
    )  # fmt: skip


def test_title_and_text() -> None:
    n = note(alert("a", "firing"), alert("b", "resolved", model="churn2"))
    assert title(n) == "[FIRING:1] churn"
    assert text(n).splitlines()[:4] == [
        "[firing] churn: accuracy low",
        "  labels: alertname=ModelAccuracyLow, model_id=churn, severity=critical",
        "  value: 0.5  since: 2026-11-27T09:00:00+00:00",
        "  runbook: https://mlmon.dev/rb",
    ]
    assert "  resolved at: 2026-11-27T09:10:00+00:00" in text(n)


def test_webhook_payload_is_alertmanager_compatible() -> None:
    n = note(alert("a", "firing"), alert("b", "resolved", model="churn2"))
    body = webhook_payload(n, "http://mlmon", max_alerts=1)
    assert body["version"] == "4"
    assert body["truncatedAlerts"] == 1
    assert body["commonLabels"] == {"alertname": "ModelAccuracyLow", "severity": "critical"}
    assert body["commonAnnotations"] == {"runbook": "https://mlmon.dev/rb"}
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert body["mlmon"]["idempotencyKey"] == "k" * 32


def test_render_all_honours_send_resolved_and_integrations() -> None:
    firing = render_all(note(alert("a", "firing"), alert("b", "resolved")), RECEIVER)
    assert [(i, idx) for i, idx, _ in firing] == [
        ("email", 0), ("slack", 0), ("webhook", 0), ("pagerduty", 0), ("alertmanager", 0)
    ]  # fmt: skip
    email, slack = firing[0][2], firing[1][2]
    assert "resolved" not in email["text"]  # email send_resolved defaults to false
    assert slack["channel"] == "#ml"
    assert slack["attachments"][0]["color"] == "#d9534f"
    resolved = render_all(note(alert("a", "resolved"), status="resolved"), RECEIVER)
    assert [i for i, _, _ in resolved] == ["webhook", "pagerduty", "alertmanager"]
    pd = resolved[1][2]
    assert pd == {"event_action": "resolve", "dedup_key": pagerduty_dedup_key("route:{model_id='churn'}")}


def test_pagerduty_trigger_payload() -> None:
    (_, _, pd) = next(r for r in render_all(note(alert("a", "firing", severity=2)), RECEIVER) if r[0] == "pagerduty")
    assert pd["event_action"] == "trigger"
    assert pd["payload"]["severity"] == "warning"
    assert pd["payload"]["source"] == "mlmon"
    assert pd["payload"]["summary"] == "[FIRING:1] churn"
    assert len(pd["dedup_key"]) == 32


def test_alertmanager_payload_matches_postable_alert_schema() -> None:
    items = alertmanager_payload(note(alert("a", "firing"), alert("b", "resolved")), "http://mlmon")
    assert sorted(items[0]) == ["annotations", "generatorURL", "labels", "startsAt"]
    assert items[1]["endsAt"] == "2026-11-27T09:10:00+00:00"


def test_build_email() -> None:
    msg = build_email({"subject": "s", "text": "body", "to": ["a@x", "b@x"], "from": "m@x"}, "abc")
    assert (msg["To"], msg["Message-ID"]) == ("a@x, b@x", "<abc@mlmon>")
    assert msg.get_content() == "body\n"


def test_idempotency_key_depends_on_set_state_and_epoch_only() -> None:
    a, b = alert("a", "firing"), alert("b", "firing")
    k = idempotency_key("g", [a, b], "firing")
    assert k == idempotency_key("g", [b, a], "firing")  # order-free
    assert k != idempotency_key("g", [a], "firing")
    assert k != idempotency_key("g", [a, {**b, "status": "resolved"}], "firing")
    assert k != idempotency_key("g", [a, b], "firing", epoch=1)
    assert k != idempotency_key("h", [a, b], "firing")
    assert k != idempotency_key("g", [a, b], "firing", receiver="x")


def record(integration: str = "webhook", payload: Any = None) -> OutboxRecord:
    return OutboxRecord.new("k" * 32, "all", integration, 0, payload or {"a": 1}, T0)  # type: ignore[arg-type]


def test_build_request_adds_secrets_and_signature() -> None:
    req = build_request(record(), RECEIVER)
    assert req.url == "https://hooks.example.com/x"
    assert req.body == b'{"a":1}'
    assert req.headers["X-Mlmon-Signature"] == sign("s3cret", b'{"a":1}')
    assert verify("s3cret", req.body, req.headers["X-Mlmon-Signature"])
    assert not verify("wrong", req.body, req.headers["X-Mlmon-Signature"])
    assert req.headers["Idempotency-Key"] == "k" * 32
    pd = build_request(record("pagerduty", {"event_action": "resolve"}), RECEIVER)
    assert json.loads(pd.body) == {"routing_key": "rk", "event_action": "resolve"}
    am = build_request(record("alertmanager", [{"labels": {}}]), RECEIVER)
    assert am.url == "http://127.0.0.1:9093/api/v2/alerts"
    assert build_request(record("slack"), RECEIVER).url == "https://hooks.slack.com/services/T/B/secret"
    with pytest.raises(PermanentError, match=r"receiver 'all' has no webhook_configs\[3\]"):
        build_request(record().model_copy(update={"index": 3}), RECEIVER)
    with pytest.raises(PermanentError, match="not an HTTP integration"):
        build_request(record("email"), RECEIVER)


def test_outbox_record_is_secret_free() -> None:
    dumped = record("pagerduty", {"event_action": "trigger"}).model_dump_json()
    assert "routing_key" not in dumped
    assert '"rk"' not in dumped


@pytest.mark.parametrize(
    ("status", "error"),
    [(200, None), (202, None), (400, PermanentError), (404, PermanentError), (408, RecoverableError),
     (429, RecoverableError), (500, RecoverableError), (503, RecoverableError)],
)  # fmt: skip
def test_classify_status(status: int, error: type[Exception] | None) -> None:
    if error is None:
        classify_status(status)
    else:
        with pytest.raises(error, match=f"HTTP {status}"):
            classify_status(status, "body")


def client(responses: list[Any], seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        r = responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return httpx.Response(r)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_attempt_retries_recoverable_then_delivers() -> None:
    seen: list[httpx.Request] = []
    c = client([httpx.ConnectError("refused"), 503, 200], seen)
    policy = Backoff(initial_s=1, factor=2, max_s=60)
    r1 = attempt(record(), RECEIVER, T0, c, policy)
    assert (r1.status, r1.attempts, r1.next_attempt_at) == ("pending", 1, T0 + timedelta(seconds=1))
    assert r1.last_error == "transport error: ConnectError: refused"
    r2 = attempt(r1, RECEIVER, T0 + timedelta(seconds=1), c, policy)
    assert (r2.status, r2.attempts, r2.next_attempt_at) == ("pending", 2, T0 + timedelta(seconds=3))
    r3 = attempt(r2, RECEIVER, T0 + timedelta(seconds=3), c, policy)
    assert (r3.status, r3.attempts, r3.delivered_at) == ("delivered", 3, T0 + timedelta(seconds=3))
    assert attempt(r3, RECEIVER, T0, c, policy) is r3  # delivered records are never sent again
    assert len(seen) == 3
    assert seen[0].headers["Idempotency-Key"] == "k" * 32


def test_attempt_permanent_error_and_deadline_fail_the_record() -> None:
    r = attempt(record(), RECEIVER, T0, client([400], []))
    assert (r.status, r.last_error) == ("failed", "HTTP 400: ")
    late = attempt(record(), RECEIVER, T0 + timedelta(days=2), client([503], []), Backoff(deadline_s=3600))
    assert late.status == "failed"
    timeout = attempt(record(), RECEIVER, T0, client([httpx.ReadTimeout("slow")], []))
    assert (timeout.status, timeout.last_error) == ("pending", "timeout: slow")


class FakeSMTP:
    """Records calls; raises the configured error on send_message."""

    instances: list[FakeSMTP] = []

    def __init__(self, host: str, port: int, local_hostname: str, timeout: float) -> None:
        self.args = (host, port, local_hostname, timeout)
        self.calls: list[str] = []
        self.sent: list[EmailMessage] = []
        self.error = FakeSMTP.next_error
        FakeSMTP.instances.append(self)

    next_error: Exception | None = None

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append("quit")

    def starttls(self, context: object) -> None:
        self.calls.append("starttls")

    def login(self, user: str, password: str) -> None:
        self.calls.append(f"login {user} {password}")

    def send_message(self, msg: EmailMessage) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(msg)


@pytest.mark.parametrize(
    ("error", "status"),
    [(None, "delivered"), (smtplib.SMTPResponseException(451, b"try later"), "pending"),
     (smtplib.SMTPResponseException(550, b"no such user"), "failed"),
     (smtplib.SMTPServerDisconnected("gone"), "pending"), (ConnectionRefusedError(111, "refused"), "pending")],
)  # fmt: skip
def test_email_delivery(error: Exception | None, status: str) -> None:
    FakeSMTP.instances.clear()
    FakeSMTP.next_error = error
    payload = {"subject": "[FIRING:1] churn", "text": "t", "to": ["oncall@example.com"], "from": "mlmon@example.com"}
    r = attempt(record("email", payload), RECEIVER, T0, httpx.Client(), smtp_factory=FakeSMTP)  # type: ignore[arg-type]
    assert r.status == status
    smtp = FakeSMTP.instances[0]
    assert smtp.args == ("smtp.example.com", 587, "localhost", 10.0)
    assert smtp.calls[:2] == ["starttls", "login u pw"]
    if status == "delivered":
        assert smtp.sent[0]["Subject"] == "[FIRING:1] churn"


def test_send_with_retry_backs_off_exponentially() -> None:
    sleeps: list[float] = []
    outcomes: list[Exception | None] = [RecoverableError("a"), RecoverableError("b"), None]

    def send() -> None:
        err = outcomes.pop(0)
        if err:
            raise err

    assert send_with_retry(send, policy=Backoff(initial_s=0.5), sleep=sleeps.append) == 3
    assert sleeps == [0.5, 1.0]

    def always() -> None:
        raise RecoverableError("down")

    sleeps.clear()
    with pytest.raises(RecoverableError, match="down"):
        send_with_retry(always, max_attempts=4, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 2.0]

    def permanent() -> None:
        raise PermanentError("bad request")

    with pytest.raises(PermanentError):
        send_with_retry(permanent, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        send_with_retry(send, max_attempts=0, sleep=sleeps.append)


def test_receiver_down_two_minutes_is_retried_until_delivered() -> None:
    # Receiver returns 503 for 120 s; the outbox keeps retrying with capped backoff, delivers once.
    seen: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(now_s)
        return httpx.Response(503 if now_s < 120 else 200)

    c = httpx.Client(transport=httpx.MockTransport(handler))
    policy = Backoff(initial_s=1, factor=2, max_s=30)
    r = record()
    now_s = 0.0
    while r.status == "pending":
        now_s = (r.next_attempt_at - T0).total_seconds()
        r = attempt(r, RECEIVER, r.next_attempt_at, c, policy)
    assert r.status == "delivered"
    assert seen == [0, 1, 3, 7, 15, 31, 61, 91, 121]


def test_to_outbox_one_record_per_integration() -> None:
    from mlmon_alerting.notify.render import to_outbox

    records = to_outbox(note(alert("a", "firing")), RECEIVER, T0)
    assert [r.key for r in records] == [
        f"{'k' * 32}:email:0",
        f"{'k' * 32}:slack:0",
        f"{'k' * 32}:webhook:0",
        f"{'k' * 32}:pagerduty:0",
        f"{'k' * 32}:alertmanager:0",
    ]
    assert {(r.status, r.attempts, r.next_attempt_at) for r in records} == {("pending", 0, T0)}
    assert OutboxRecord.model_validate_json(records[0].model_dump_json()) == records[0]


# -- outcomes kept in memory while Redis is away (worker.PendingMarks) ----------------------------------


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """What ``complete`` does, as far as the marks see it: raise while 'down', else store."""

    def __init__(self) -> None:
        self.down = False
        self.error: Exception | None = None
        self.stored: list[tuple[str, str]] = []
        self.tries = 0

    def __call__(self, outcome: OutboxRecord) -> bool:
        self.tries += 1
        if self.error is not None:
            raise self.error
        if self.down:
            raise RetryableError("redis unavailable: connection refused")
        self.stored.append((outcome.key, outcome.status))
        return True


def outcome(idem: str, delivered: bool = True) -> OutboxRecord:
    r = OutboxRecord.new(idem, "all", "webhook", 0, {"a": 1}, T0)
    return r.delivered(T0) if delivered else r.failed_attempt("HTTP 503", T0, recoverable=True, policy=Backoff())


def test_marks_retry_with_a_short_capped_backoff_until_stored() -> None:
    clock, store = Clock(), Store()
    marks = PendingMarks(clock=clock)
    store.down = True
    marks.add(outcome("a"))
    marks.add(outcome("b", delivered=False))
    assert (len(marks), "a:webhook:0" in marks, marks.deferred) == (2, True, 2)
    assert (marks.flush(store), store.tries) == (2, 0)  # the first store just failed: wait 0.1 s
    waits = []
    for _ in range(7):
        waits.append(round(marks.wait_s(), 3))
        clock.now += marks.wait_s()
        assert marks.flush(store) == 2
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert store.tries == 7  # one try per flush: Redis is away for all of them, the rest wait too
    store.down = False
    clock.now += marks.wait_s()
    assert marks.flush(store) == 0
    assert store.stored == [("a:webhook:0", "delivered"), ("b:webhook:0", "pending")]
    assert (marks.failures, "a:webhook:0" in marks) == (0, False)
    marks.add(outcome("c"))  # the backoff starts again from its first step
    assert round(marks.wait_s(), 3) == 0.1


def test_marks_drop_an_outcome_on_a_non_transient_error() -> None:
    clock, store = Clock(), Store()
    marks = PendingMarks(clock=clock)
    marks.add(outcome("a"))
    store.error = ValueError("a bug, not an outage")
    clock.now += 1
    assert marks.flush(store) == 0  # logged and dropped: retrying cannot help
    assert store.stored == []


class MemoryQueue:
    """The slice of :class:`OutboxQueue` the worker uses, in memory; ``down`` makes every call fail."""

    def __init__(self, *records: OutboxRecord) -> None:
        self.records = {r.key: r for r in records}
        self.due_at = {r.key: r.next_attempt_at.timestamp() for r in records}
        self.down = False
        self.claims: list[str] = []

    def _check(self) -> None:
        if self.down:
            raise RetryableError("redis unavailable: connection refused")

    def due(self, now: datetime, limit: int = 50) -> list[str]:
        self._check()
        return sorted((k for k, t in self.due_at.items() if t <= now.timestamp()), key=self.due_at.__getitem__)

    def claim(self, key: str, now: datetime, lease_s: float) -> OutboxRecord | None:
        self._check()
        if key not in self.due_at or self.due_at[key] > now.timestamp():
            return None
        self.due_at[key] = now.timestamp() + lease_s
        self.claims.append(key)
        return self.records[key]

    def complete(self, record: OutboxRecord, now: datetime) -> bool:
        self._check()
        if self.records[record.key].status == "delivered":
            return False
        self.records[record.key] = record
        if record.status == "pending":
            self.due_at[record.key] = record.next_attempt_at.timestamp()
        else:
            self.due_at.pop(record.key, None)
        return True


def test_worker_keeps_a_known_outcome_and_never_resends_it() -> None:
    """The receiver answers 200 while Redis goes away: the mark waits in memory, the record is not sent
    again after its lease, nothing else is claimed until the mark is stored, then work resumes."""
    first = OutboxRecord.new("a" * 32, "all", "webhook", 0, {"n": 1}, T0)
    second = OutboxRecord.new("b" * 32, "all", "webhook", 0, {"n": 2}, T0 + timedelta(seconds=1))
    queue = MemoryQueue(first, second)
    sent: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Idempotency-Key"])
        queue.down = len(sent) == 1  # Redis goes away while the first request is answered
        return httpx.Response(200)

    now = [T0]
    mono = Clock()
    worker = DeliveryWorker(
        queue,  # type: ignore[arg-type]
        CFG, backoff=Backoff(), lease_s=5, clock=lambda: now[0], marks=PendingMarks(clock=mono),
    )  # fmt: skip
    c = httpx.Client(transport=httpx.MockTransport(receiver))
    assert worker.step(c) == 1
    assert (sent, len(worker.marks), queue.records[first.key].status) == (["a" * 32], 1, "pending")

    queue.down = False  # Redis is back, the lease ran out, the mark's backoff has not
    now[0] = T0 + timedelta(seconds=10)
    assert sorted(queue.due(now[0])) == [first.key, second.key]
    assert worker.step(c) == 0  # claims nothing: neither the marked record nor new work
    assert (queue.claims, sent) == ([first.key], ["a" * 32])

    mono.now += worker.marks.wait_s()
    assert worker.marks.flush(worker.store) == 0
    assert queue.records[first.key].status == "delivered"
    assert worker.step(c) == 1  # the second record goes out; the first is never sent again
    assert sent == ["a" * 32, "b" * 32]
    assert queue.due(now[0] + timedelta(hours=1)) == []
