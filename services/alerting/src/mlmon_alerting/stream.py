"""The live alert stream: alert events fan out from the engine's threads to Server-Sent Events clients.

Each ``GET /v1/alerts/stream`` subscribes an asyncio queue; :meth:`AlertHub.publish` (any thread) hands
events to every subscriber's event loop. A subscriber too slow to keep ``maxsize`` events queued loses
the oldest ones (on-call clients re-list with ``GET /v1/alerts``); the broker topic is the durable log.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol


class _Event(Protocol):
    @property
    def event_id(self) -> str: ...

    def to_json(self) -> bytes: ...


def sse_frame(event: _Event) -> str:
    """One SSE message: ``event: alert``, ``id: <event_id>``, ``data: <AlertEvent JSON>``."""
    return f"event: alert\nid: {event.event_id}\ndata: {event.to_json().decode()}\n\n"


class AlertHub:
    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._subs: dict[asyncio.Queue[Any], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue(self.maxsize)
        with self._lock:
            self._subs[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        with self._lock:
            self._subs.pop(queue, None)

    def publish(self, events: Sequence[_Event]) -> None:
        if not events:
            return
        with self._lock:
            subs = list(self._subs.items())
        for queue, loop in subs:
            with contextlib.suppress(RuntimeError):  # that loop is closing
                loop.call_soon_threadsafe(_offer, queue, list(events))

    async def frames(
        self, disconnected: Callable[[], Any], heartbeat_s: float = 15.0, poll_s: float = 1.0
    ) -> AsyncIterator[str]:
        """The SSE body of one client, until ``disconnected()`` (awaitable) says it left."""
        queue = self.subscribe()
        try:
            yield "retry: 2000\n: connected\n\n"
            idle = 0.0
            while not await disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), poll_s)
                except TimeoutError:
                    idle += poll_s
                    if idle >= heartbeat_s:
                        idle = 0.0
                        yield ": keepalive\n\n"
                    continue
                idle = 0.0
                yield sse_frame(event)
        finally:
            self.unsubscribe(queue)


def _offer(queue: asyncio.Queue[Any], events: list[_Event]) -> None:
    for event in events:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(event)
