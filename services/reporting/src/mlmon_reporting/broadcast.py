"""In-process fan-out of stored events to Server-Sent Events clients.

The consumer thread calls :meth:`Broadcaster.publish` after a batch is stored; each SSE client owns a
bounded ``asyncio.Queue`` on the server's event loop, fed with ``call_soon_threadsafe``. A client that
falls ``queue_size`` events behind is disconnected (it reconnects and reloads) instead of growing memory.
Each replica streams the events of the partitions it consumes.

>>> import asyncio
>>> from mlmon_common.events import ResourceEvent
>>> async def demo():
...     b = Broadcaster(queue_size=10)
...     sub = b.subscribe()
...     b.publish([ResourceEvent(model_id="m", service="s", host="h", cpu_percent=1, memory_percent=2)])
...     return (await asyncio.wait_for(sub.queue.get(), 1)).event_type
>>> asyncio.run(demo())
'resource'
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlmon_common.events import Envelope

logger = logging.getLogger(__name__)
#: Event types streamed to the page (``api_shapes``: ``event:`` is the ``event_type``).
STREAMED = frozenset({"metrics", "drift", "resource", "alert", "maintenance"})


class TooManyClientsError(Exception):
    pass


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Envelope | None]
    loop: asyncio.AbstractEventLoop
    dropped: bool = False
    sent: int = field(default=0)


class Broadcaster:
    def __init__(self, queue_size: int = 1000, max_clients: int = 100) -> None:
        self.queue_size = queue_size
        self.max_clients = max_clients
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self.published = 0

    @property
    def clients(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        """A new client queue on the running loop; raises :class:`TooManyClientsError` when full."""
        with self._lock:
            if len(self._subs) >= self.max_clients:
                raise TooManyClientsError(f"at most {self.max_clients} stream clients")
            sub = Subscription(asyncio.Queue(self.queue_size + 1), asyncio.get_running_loop())
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, events: Iterable[Envelope]) -> None:
        """Thread-safe; never blocks the caller."""
        batch = [e for e in events if getattr(e, "event_type", None) in STREAMED]
        if not batch:
            return
        with self._lock:
            subs = list(self._subs)
        self.published += len(batch)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(self._offer, sub, batch)
            except RuntimeError:  # the client's loop is closed
                self.unsubscribe(sub)

    def _offer(self, sub: Subscription, batch: list[Envelope]) -> None:
        if sub.dropped:
            return
        for ev in batch:
            if sub.queue.qsize() >= self.queue_size:
                sub.dropped = True
                sub.queue.put_nowait(None)  # tells the stream to end; the browser reconnects
                logger.warning("SSE client too slow, disconnected", extra={"queue_size": self.queue_size})
                return
            sub.queue.put_nowait(ev)

    def close(self) -> None:
        """End every stream (service shutdown)."""
        with self._lock:
            subs = list(self._subs)
            self._subs.clear()
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(self._end, sub)
            except RuntimeError:  # loop already closed: nothing to end
                continue

    @staticmethod
    def _end(sub: Subscription) -> None:
        sub.dropped = True
        while sub.queue.full():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)
