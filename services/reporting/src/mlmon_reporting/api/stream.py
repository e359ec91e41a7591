"""``GET /v1/stream``: Server-Sent Events of every stored metrics, drift, resource, alert and maintenance event.

``event:`` is the ``event_type``, ``data:`` the event JSON as on the topic, ``id:`` the ``event_id``;
a ``: keepalive`` comment every ``sse_keepalive_s``. ``?model_id=`` narrows it to one model (alerts of
every model are always sent: the page's fleet and alert lists show them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from mlmon_common.events import Envelope
from mlmon_reporting.api.deps import Rep
from mlmon_reporting.broadcast import Subscription, TooManyClientsError

router = APIRouter(prefix="/v1", tags=["stream"])
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def frame(ev: Envelope) -> bytes:
    event_type = getattr(ev, "event_type", "event")
    return f"event: {event_type}\nid: {ev.event_id}\ndata: {ev.model_dump_json()}\n\n".encode()


@router.get("/stream")
async def stream(
    rep: Rep, request: Request, model_id: Annotated[str | None, Query(max_length=200)] = None
) -> StreamingResponse:
    try:
        sub = rep.broadcaster.subscribe()
    except TooManyClientsError as exc:
        raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from exc
    keepalive = rep.options.sse_keepalive_s

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 3000\n: connected\n\n"
            while True:
                item = await _next(sub, keepalive)
                if item is None:
                    if sub.dropped or await request.is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    continue
                if model_id is None or item.model_id == model_id or getattr(item, "event_type", "") == "alert":
                    yield frame(item)
        finally:
            rep.broadcaster.unsubscribe(sub)

    return StreamingResponse(events(), media_type="text/event-stream", headers=HEADERS)


async def _next(sub: Subscription, timeout_s: float) -> Envelope | None:
    try:
        return await asyncio.wait_for(sub.queue.get(), timeout_s)
    except TimeoutError:
        return None
