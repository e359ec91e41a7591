"""Redis access shared by the services: one client factory, and the ``event_id`` deduper.

Redis failures (connection refused, timeouts, a loading replica) surface as ``RetryableError`` so the
consumer runner backs off and retries the batch instead of dead-lettering good records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import ParamSpec, TypeVar

import redis
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

from mlmon_common.errors import RetryableError
from mlmon_common.settings import RedisSettings

P = ParamSpec("P")
T = TypeVar("T")
TRANSIENT = (ConnectionError, TimeoutError, BusyLoadingError)


def connect(settings: RedisSettings) -> redis.Redis:
    """A client with bounded timeouts and health checks (bytes in, bytes out)."""
    return redis.Redis.from_url(
        settings.url.get_secret_value(),
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
    )


def retryable(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn transient Redis errors raised by ``fn`` into ``RetryableError``."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except TRANSIENT as exc:
            raise RetryableError(f"redis unavailable: {exc}") from exc

    return wrapper


class Deduper:
    """Remembers ``event_id``s for ``ttl_s`` seconds; :meth:`first_seen` marks a batch in one round trip."""

    def __init__(self, client: redis.Redis, namespace: str, ttl_s: int = 7 * 24 * 3600) -> None:
        self._r = client
        self._prefix = f"{namespace}:seen:"
        self._ttl = ttl_s

    @retryable
    def first_seen(self, event_ids: Sequence[str]) -> list[bool]:
        """For each id: True if it was not seen before (and is now recorded), False for a duplicate."""
        pipe = self._r.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.set(self._prefix + event_id, b"1", nx=True, ex=self._ttl)
        return [bool(ok) for ok in pipe.execute()]
