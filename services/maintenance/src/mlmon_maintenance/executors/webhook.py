"""Hand a plan to an external system (Airflow, Argo, a CI endpoint) with a signed POST.

The body is the plan as JSON; the ``X-Mlmon-Signature`` header is ``t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>." + body)`` (the timestamp bounds replays). The external system reports
back with a ``StatusCallback`` signed the same way; ``verify_signature`` checks it.

>>> sig = sign(b'{"a":1}', "s3cret", 1700000000)
>>> sig
't=1700000000,v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mlmon_common.events import utcnow
from mlmon_maintenance.executors.base import ExecutionResult
from mlmon_maintenance.plans import MaintenancePlan

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Mlmon-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """A callback whose signature is missing, malformed, stale or wrong."""


class StatusCallback(BaseModel):
    """What the external system POSTs back to ``callback_url`` when the job moves."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan_id: str = Field(min_length=1)
    state: Literal["running", "succeeded", "failed"]
    at: AwareDatetime
    result: dict[str, Any] = Field(default_factory=dict)
    message: str = ""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    body: bytes, header: str | None, secret: str, now: datetime, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> None:
    """Raise ``SignatureError`` unless ``header`` signs ``body`` with ``secret`` within the tolerance."""
    if not header:
        raise SignatureError(f"{SIGNATURE_HEADER}: header missing")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError):
        raise SignatureError(f"{SIGNATURE_HEADER}: expected 't=<unix>,v1=<hex>', got {header[:80]!r}") from None
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise SignatureError(f"{SIGNATURE_HEADER}: timestamp {timestamp} outside {tolerance_s}s of now")
    expected = sign(body, secret, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise SignatureError(f"{SIGNATURE_HEADER}: signature does not match the body")


def parse_callback(body: bytes, header: str | None, secret: str, now: datetime) -> StatusCallback:
    """Verify then decode a status callback (``pydantic.ValidationError`` on a bad body)."""
    verify_signature(body, header, secret, now)
    return StatusCallback.model_validate_json(body)


def payload(plan: MaintenancePlan, callback_url: str | None) -> bytes:
    doc = {
        "plan_id": plan.id,
        "model_id": plan.model_id,
        "actions": [a.model_dump() for a in plan.actions],
        "priority": plan.priority,
        "reasons": [r.model_dump() for r in plan.reasons],
        "due_at": plan.due_at.isoformat(),
        "callback_url": callback_url,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class WebhookExecutor:
    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        client: httpx.Client,
        callback_url: str | None = None,
        clock: Any = utcnow,
    ) -> None:
        self.url = url
        self.secret = secret
        self.client = client
        self.callback_url = callback_url
        self.clock = clock

    def execute(self, plan: MaintenancePlan) -> ExecutionResult:
        now: datetime = self.clock()
        body = payload(plan, self.callback_url)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self.secret, int(now.timestamp())),
            IDEMPOTENCY_HEADER: plan.id,
        }
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            logger.warning("webhook for plan %s failed: %s", plan.id, exc)
            return self._result(plan, now, "failed", f"{type(exc).__name__}: {exc}", retryable=True)
        code = response.status_code
        text = response.text[:2000]
        if 200 <= code < 300:
            return self._result(plan, now, "submitted", text, details={"http_status": code})
        retryable = code >= 500 or code in (408, 429)
        return self._result(plan, now, "failed", text, retryable=retryable, details={"http_status": code})

    def _result(
        self,
        plan: MaintenancePlan,
        now: datetime,
        status: Literal["submitted", "failed"],
        output: str,
        retryable: bool = False,
        details: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        return ExecutionResult(
            plan_id=plan.id,
            executor=self.name,
            status=status,
            started_at=now,
            finished_at=now if status == "failed" else None,
            output=output,
            retryable=retryable,
            details=details or {},
        )
