"""HTTP API of the alerting service (reads are open; writes need the API key).

``GET    /v1/alerts``                      alerts (``?status=firing&severity=critical&model_id=churn``)
``POST   /v1/alerts/{fingerprint}/ack``    acknowledge ``{"by": "ana"}``: 404 unknown, 409 not active
``GET    /v1/alerts/stream``               Server-Sent Events: ``event: alert``, ``id: <event_id>``, ``data: <JSON>``
``GET    /v1/silences``                    silences (``?state=active``)
``POST   /v1/silences``                    create (or update, same ``id``) a silence -> 201
``DELETE /v1/silences/{id}``               expire a silence now: 404 unknown
``GET    /v1/receivers/outbox``            pending / failed / delivered notification counts
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from mlmon_alerting.engine import AlertingEngine
from mlmon_alerting.silences import Silence, SilenceState
from mlmon_common.events import Severity
from mlmon_common.http import api_key_dependency
from mlmon_common.settings import ServiceSettings

SeverityName = Literal["critical", "warning", "info"]
AlertStatusName = Literal["pending", "firing", "resolved"]


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    comment: Annotated[str, Field(max_length=2000)] = ""


class SilenceBody(BaseModel):
    """A new silence; ``starts_at`` defaults to now; give ``ends_at`` or ``duration_s``."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")] | None = None
    matchers: Annotated[list[str], Field(min_length=1)]
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration_s: Annotated[float, Field(gt=0)] | None = None
    created_by: str
    comment: str


def _view(state: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in state.items() if k not in ("streak", "active_since")}
    out["severity"] = Severity(state["severity"]).name.lower()
    return out


def _silence_view(s: Silence, now: datetime) -> dict[str, Any]:
    return {**s.model_dump(mode="json"), "state": s.state(now)}


def _unprocessable(exc: ValidationError) -> HTTPException:
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return HTTPException(422, errors)


def routers(engine: AlertingEngine, settings: ServiceSettings, heartbeat_s: float = 15.0) -> list[APIRouter]:
    write = [Depends(api_key_dependency(settings))]
    alerts = APIRouter(prefix="/v1/alerts", tags=["alerts"])
    silences = APIRouter(prefix="/v1/silences", tags=["silences"])
    receivers = APIRouter(prefix="/v1/receivers", tags=["receivers"])

    @alerts.get("")
    def list_alerts(
        status: AlertStatusName | None = None,
        severity: SeverityName | None = None,
        model_id: Annotated[str | None, Query(min_length=1)] = None,
    ) -> dict[str, Any]:
        found = [_view(s) for s in engine.alerts()]
        found = [
            a for a in found
            if (status is None or a["status"] == status)
            and (severity is None or a["severity"] == severity)
            and (model_id is None or a["labels"].get("model_id") == model_id)
        ]  # fmt: skip
        return {"alerts": found, "count": len(found)}

    @alerts.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(
            engine.hub.frames(request.is_disconnected, heartbeat_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @alerts.post("/{fingerprint}/ack", dependencies=write)
    def ack(fingerprint: str, body: AckBody) -> dict[str, Any]:
        try:
            return _view(engine.acknowledge(fingerprint, body.by.strip()))
        except KeyError:
            raise HTTPException(404, f"no alert with fingerprint {fingerprint!r}") from None
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None

    @silences.get("")
    def list_silences(state: SilenceState | None = None) -> dict[str, Any]:
        now = engine.clock()
        found = [_silence_view(s, now) for s in engine.silences() if state is None or s.state(now) == state]
        return {"silences": found, "count": len(found)}

    @silences.post("", dependencies=write, status_code=201)
    def create_silence(body: SilenceBody) -> dict[str, Any]:
        now = engine.clock()
        starts = body.starts_at or now
        if (body.ends_at is None) == (body.duration_s is None):
            raise HTTPException(422, "give exactly one of ends_at and duration_s")
        ends = body.ends_at or starts + timedelta(seconds=body.duration_s or 0)
        fields: dict[str, Any] = {
            "matchers": body.matchers,
            "starts_at": starts,
            "ends_at": ends,
            "created_by": body.created_by,
            "comment": body.comment,
        }
        if body.id is not None:
            fields.update(id=body.id, updated_at=now)
        try:
            silence = Silence.model_validate(fields)
        except ValidationError as exc:
            raise _unprocessable(exc) from None
        except ValueError as exc:  # a matcher that does not parse
            raise HTTPException(422, str(exc)) from None
        return _silence_view(engine.put_silence(silence), now)

    @silences.delete("/{silence_id}", dependencies=write)
    def expire_silence(silence_id: str) -> dict[str, Any]:
        try:
            return _silence_view(engine.expire_silence(silence_id), engine.clock())
        except KeyError:
            raise HTTPException(404, f"no silence with id {silence_id!r}") from None

    @receivers.get("/outbox")
    def outbox() -> dict[str, Any]:
        counts = engine.store.outbox.counts()
        failed = [
            {"key": r.key, "receiver": r.receiver, "integration": r.integration, "attempts": r.attempts,
             "last_error": r.last_error}
            for r in engine.store.outbox.failed(20)
        ]  # fmt: skip
        return {**counts, "recent_failures": failed}

    return [alerts, silences, receivers]
