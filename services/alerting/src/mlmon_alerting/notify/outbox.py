"""The durable outbox record and the idempotency key that makes delivery exactly-once per receiver.

A flush writes one :class:`OutboxRecord` per (notification, integration) keyed by its
``idempotency_key``; writing the same key twice (a replay, a restart mid-flush) is a no-op, and a
record marked ``delivered`` is never sent again. The lead stores records in Redis; this module
only defines them and their pure state transitions.

>>> k1 = idempotency_key("route:{model_id='churn'}", [{"fingerprint": "a", "status": "firing",
...                      "starts_at": "2026-11-27T09:00:00+00:00"}], "firing")
>>> k1 == idempotency_key("route:{model_id='churn'}", [{"fingerprint": "a", "status": "firing",
...                       "starts_at": "2026-11-27T09:00:00+00:00"}], "firing")
True
>>> len(k1)
32
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Integration = Literal["email", "slack", "webhook", "pagerduty", "alertmanager"]
OutboxStatus = Literal["pending", "delivered", "failed"]


def idempotency_key(
    group_key: str, alerts: Iterable[Mapping[str, Any]], state: str, *, epoch: int = 0, receiver: str = ""
) -> str:
    """Same (group, alert set with statuses and start times, notification state, repeat epoch) -> same key."""
    h = hashlib.sha256()
    h.update(f"{receiver}\x00{group_key}\x00{state}\x00{epoch}".encode())
    for fp, status, starts in sorted((a["fingerprint"], a["status"], a.get("starts_at") or "") for a in alerts):
        h.update(f"\x00{fp}|{status}|{starts}".encode())
    return h.hexdigest()[:32]


class OutboxRecord(BaseModel):
    """One pending delivery: the rendered payload for one integration of one receiver.

    Secrets (URLs with tokens, routing keys, HMAC secrets, SMTP passwords) are *not* stored: the
    sender takes them from the config at delivery time, addressed by ``receiver`` + ``integration``
    + ``index``.
    """

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="idempotency_key + ':' + integration + ':' + index; unique")
    idempotency_key: str
    receiver: str
    integration: Integration
    index: int = Field(ge=0, description="position in the receiver's <integration>_configs list")
    payload: dict[str, Any] | list[Any] = Field(description="JSON body, or for email the message fields")
    created_at: AwareDatetime
    status: OutboxStatus = "pending"
    attempts: int = Field(0, ge=0)
    next_attempt_at: AwareDatetime
    last_error: str | None = None
    delivered_at: AwareDatetime | None = None
    lane: str = Field("", description="records of one lane (receiver, group, integration) go out in order")
    lease: str = Field("", exclude=True, description="token of the claim this copy came from; never stored")

    @classmethod
    def new(
        cls,
        idem: str,
        receiver: str,
        integration: Integration,
        index: int,
        payload: Any,
        now: datetime,
        lane: str = "",
    ) -> OutboxRecord:
        return cls(
            key=f"{idem}:{integration}:{index}",
            idempotency_key=idem,
            receiver=receiver,
            integration=integration,
            index=index,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
            lane=lane,
        )

    def delivered(self, now: datetime) -> OutboxRecord:
        return self.model_copy(update={"status": "delivered", "delivered_at": now, "attempts": self.attempts + 1})

    def failed_attempt(self, error: str, now: datetime, *, recoverable: bool, policy: Backoff) -> OutboxRecord:
        """Record a failed attempt: retry later (backoff) or give up (permanent error / deadline)."""
        attempts = self.attempts + 1
        give_up = not recoverable or now - self.created_at >= timedelta(seconds=policy.deadline_s)
        return self.model_copy(
            update={
                "attempts": attempts,
                "last_error": error[:2000],
                "status": "failed" if give_up else "pending",
                "next_attempt_at": now + timedelta(seconds=policy.delay(attempts)),
            }
        )


class Backoff(BaseModel):
    """Exponential backoff: ``initial_s * factor**(attempt-1)`` capped at ``max_s``; jitter is the caller's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_s: float = Field(0.5, gt=0)
    factor: float = Field(2.0, ge=1)
    max_s: float = Field(30.0, gt=0)
    deadline_s: float = Field(24 * 3600.0, gt=0, description="give up after this long since creation")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failure (1-based).

        >>> [Backoff().delay(n) for n in (1, 2, 3, 8)]
        [0.5, 1.0, 2.0, 30.0]
        """
        return float(min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1)))
