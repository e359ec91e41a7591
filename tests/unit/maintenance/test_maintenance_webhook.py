from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError

from mlmon_maintenance.executors.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    WebhookExecutor,
    parse_callback,
    sign,
    verify_signature,
)
from mlmon_maintenance.plans import Action, MaintenancePlan

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
TS = int(T0.timestamp())
SECRET = "s3cret"


def _plan() -> MaintenancePlan:
    return MaintenancePlan.propose(
        model_id="churn", actions=[Action(type="retraining")], priority=2, reasons=[], due_at=T0, now=T0, key="k"
    )


def _executor(handler: object) -> tuple[WebhookExecutor, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)  # type: ignore[operator,no-any-return]

    client = httpx.Client(transport=httpx.MockTransport(record))
    ex = WebhookExecutor("https://ci.example/hooks/retrain", SECRET, client, "https://mlmon/cb", clock=lambda: T0)
    return ex, seen


def test_sign_matches_reference_hmac() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sign(body, SECRET, 1700000000) == f"t=1700000000,v1={expected}"
    # computed independently with: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
    assert expected == "1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"


def test_post_is_signed_and_idempotent() -> None:
    ex, seen = _executor(lambda r: httpx.Response(202, text="queued"))
    result = ex.execute(_plan())
    assert result.status == "submitted"
    assert result.details == {"http_status": 202}
    assert result.output == "queued"
    (req,) = seen
    assert req.method == "POST"
    assert req.headers[IDEMPOTENCY_HEADER] == _plan().id
    verify_signature(req.content, req.headers[SIGNATURE_HEADER], SECRET, T0)
    doc = json.loads(req.content)
    assert doc["plan_id"] == _plan().id
    assert doc["model_id"] == "churn"
    assert doc["actions"] == [{"type": "retraining", "params": {}}]
    assert doc["callback_url"] == "https://mlmon/cb"
    assert doc["due_at"] == "2026-03-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("code", "retryable"), [(500, True), (503, True), (429, True), (408, True), (400, False), (401, False)]
)
def test_http_errors(code: int, retryable: bool) -> None:
    ex, _ = _executor(lambda r: httpx.Response(code, text="nope"))
    result = ex.execute(_plan())
    assert result.status == "failed"
    assert result.retryable is retryable
    assert result.details == {"http_status": code}
    assert result.finished_at == T0


def test_transport_error_is_retryable() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = _executor(boom)[0].execute(_plan())
    assert result.status == "failed"
    assert result.retryable is True
    assert result.output == "ConnectError: connection refused"


def test_callback_roundtrip() -> None:
    body = json.dumps(
        {"plan_id": "churn-1", "state": "succeeded", "at": "2026-03-01T12:01:00Z", "result": {"accuracy": 0.9}}
    ).encode()
    cb = parse_callback(body, sign(body, SECRET, TS), SECRET, T0 + timedelta(seconds=60))
    assert (cb.plan_id, cb.state, cb.result) == ("churn-1", "succeeded", {"accuracy": 0.9})


@pytest.mark.parametrize(
    ("header", "now", "message"),
    [
        (None, T0, "X-Mlmon-Signature: header missing"),
        ("garbage", T0, "X-Mlmon-Signature: expected 't=<unix>,v1=<hex>', got 'garbage'"),
        ("t=abc,v1=00", T0, "X-Mlmon-Signature: expected"),
        (sign(b"{}", SECRET, TS), T0 + timedelta(seconds=301), f"timestamp {TS} outside 300s of now"),
        (sign(b"{}", "other", TS), T0, "signature does not match the body"),
        (sign(b'{"x":1}', SECRET, TS), T0, "signature does not match the body"),
    ],
)
def test_bad_signatures(header: str | None, now: datetime, message: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_signature(b"{}", header, SECRET, now)
    assert message in str(info.value)


def test_callback_with_bad_state_rejected_naming_field() -> None:
    body = b'{"plan_id": "p", "state": "exploded", "at": "2026-03-01T12:00:00Z"}'
    with pytest.raises(ValidationError, match="state"):
        parse_callback(body, sign(body, SECRET, TS), SECRET, T0)
