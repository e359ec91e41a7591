"""Redis goes away between a receiver's 2xx and the outbox's "delivered" mark (issue 9): never a second send.

The outage test runs the service in this process against its own redis-server with AOF persistence on a free
port (the session Redis is shared), stops Redis cleanly (SIGTERM: the AOF is written) from inside the
receiver's request handler, checks ``/metrics`` and ``/readyz`` while the outcome waits, and restarts Redis
on the same port after longer than the delivery lease. The other tests pin down :meth:`OutboxQueue.complete`
when an outcome arrives after its lease was taken by another claim.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from pydantic import SecretStr

from mlmon_alerting.notify.outbox import Backoff, OutboxRecord
from mlmon_alerting.notify.queue import OutboxQueue
from mlmon_common.devstack import free_port, start_redis, stop_process
from mlmon_common.events import utcnow
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, Received, unique, wait_for

from .conftest import FAST, running_service

LEASE_S = 1.0
#: How long Redis stays down: well past the lease, so without the in-memory mark the record would be re-sent.
OUTAGE_S = 3.0 * LEASE_S
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Receiver(HttpSink):
    """Deliveries per ``Idempotency-Key``; ``on_first`` runs before the first request is answered."""

    def __init__(self) -> None:
        super().__init__(answer=self._first_then_ok)
        self.on_first: Callable[[], None] = lambda: None
        self._seen_first = False

    def _first_then_ok(self, _request: Received) -> int:
        if not self._seen_first:
            self._seen_first = True
            self.on_first()
        return 200

    @property
    def keys(self) -> Counter[str]:
        return Counter(r.headers["idempotency-key"] for r in self.requests)

    def count(self) -> int:
        return len(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


@dataclass
class OwnRedis:
    """A redis-server with AOF on a fixed port that the test stops and restarts."""

    run_dir: Path
    port: int
    pid: int = 0
    stopped_at: float = 0.0

    def start(self) -> None:
        self.pid = start_redis(self.run_dir, self.port, persist=True)[0]

    def stop(self) -> None:
        stop_process(self.pid)  # SIGTERM: redis fsyncs the AOF and exits
        self.pid = 0
        self.stopped_at = time.monotonic()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path, free_port())
    server.start()
    yield server
    if server.pid:
        stop_process(server.pid)


def webhook_config(url: str) -> str:
    return f'route: {{receiver: hook}}\nreceivers: [{{name: hook, webhook_configs: [{{url: "{url}"}}]}}]\n'


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_a_2xx_whose_mark_fails_is_recorded_after_the_outage_and_never_sent_again(
    kafka: KafkaSettings, own_redis: OwnRedis, receiver: Receiver
) -> None:
    settings = RedisSettings(
        url=SecretStr(f"redis://127.0.0.1:{own_redis.port}/0"),
        key_prefix=unique("outage:") + ":",
        socket_timeout_s=1.0,
    )
    options = FAST.model_copy(update={"delivery_lease_s": LEASE_S, "delivery_poll_s": 0.05})
    with running_service(kafka, settings, webhook_config(f"{receiver.url}/hook"), options) as (url, parts):
        queue = parts.engine.store.outbox
        now = utcnow()
        first = OutboxRecord.new(unique("first-"), "hook", "webhook", 0, {"n": 1}, now, lane="hook|g1|webhook|0")
        # due while Redis is away, in another lane: must wait for the mark, then go out once
        queued = OutboxRecord.new(
            unique("queued-"), "hook", "webhook", 0, {"n": 2}, now + timedelta(seconds=0.5), lane="hook|g2|webhook|0"
        )
        receiver.on_first = own_redis.stop  # Redis goes away while the receiver accepts the first notification
        assert queue.put(queued) == 1
        assert queue.put(first) == 1
        parts.worker.wake.set()

        wait_for(lambda: own_redis.stopped_at, 10, "Redis stopped by the receiver")
        wait_for(lambda: metric(url, "mlmon_alerting_outcomes_unrecorded") == 1, 10, "the 2xx kept as unrecorded")
        assert first.key in parts.worker.marks
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert "1 delivery outcomes waiting" in ready.text
        # the outage lasts longer than the lease: the record is due again in Redis' view
        wait_for(lambda: time.monotonic() - own_redis.stopped_at >= OUTAGE_S, OUTAGE_S + 5, "the outage")
        assert metric(url, "mlmon_alerting_outcomes_unrecorded") == 1
        own_redis.start()
        wait_for(lambda: metric(url, "mlmon_alerting_outcomes_unrecorded") == 0, 15, "the late outcome recorded")
        assert queue.get(first.key).status == "delivered"
        # a third notification queued after the outage (as the engine would, once Redis is back)
        after = OutboxRecord.new(unique("after-"), "hook", "webhook", 0, {"n": 3}, utcnow(), lane="hook|g3|webhook|0")
        assert queue.put(after) == 1
        parts.worker.wake.set()
        wait_for(lambda: queue.counts()["delivered"] == 3, 15, "all three notifications delivered")
        assert queue.counts()["pending"] == 0
        with pytest.raises(TimeoutError):  # for twice the lease after the last delivery: nothing is sent again
            wait_for(lambda: receiver.count() > 3, 2 * LEASE_S, "a notification sent again")
        assert metric(url, "mlmon_alerting_outcomes_deferred_total") == 1
        wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200, 30, "ready again")
    assert receiver.keys == Counter({first.idempotency_key: 1, queued.idempotency_key: 1, after.idempotency_key: 1})


def record(idem: str) -> OutboxRecord:
    return OutboxRecord.new(idem, "hook", "webhook", 0, {"n": idem}, T0, lane=f"hook|{idem}|webhook|0")


def test_a_late_delivered_mark_wins_over_the_claim_that_took_its_lease(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    q.put(record("a"))
    old = q.claim("a:webhook:0", T0, lease_s=1)
    assert old is not None
    new = q.claim("a:webhook:0", T0 + timedelta(seconds=5), lease_s=1)  # the lease ran out: claimed again
    assert new is not None
    assert new.lease != old.lease
    later = T0 + timedelta(seconds=6)
    # the newer claim's attempt failed and is retried; the old claim's 2xx is recorded late: delivered wins
    assert q.complete(new.failed_attempt("HTTP 503", later, recoverable=True, policy=Backoff()), later)
    assert q.complete(old.delivered(T0), later)
    assert q.get("a:webhook:0").status == "delivered"  # type: ignore[union-attr]
    assert q.due(later + timedelta(hours=1)) == []
    assert q.counts() == {"pending": 0, "failed": 0, "delivered": 1}
    assert not q.complete(old.delivered(T0), later)  # storing it again changes nothing
    assert q.counts()["delivered"] == 1


def test_a_late_retry_does_not_shorten_the_lease_of_a_newer_claim(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    q.put(record("b"))
    old = q.claim("b:webhook:0", T0, lease_s=1)
    assert old is not None
    later = T0 + timedelta(seconds=5)
    new = q.claim("b:webhook:0", later, lease_s=30)
    assert new is not None
    # the old claim's retry (due at T0 + 0.5 s) arrives while the new claim is sending: ignored
    assert not q.complete(old.failed_attempt("HTTP 503", T0, recoverable=True, policy=Backoff()), later)
    assert q.due(later + timedelta(seconds=29)) == []  # still leased to the new claim
    assert q.claim("b:webhook:0", later + timedelta(seconds=1), lease_s=30) is None
    assert q.complete(new.delivered(later), later)
    assert q.counts() == {"pending": 0, "failed": 0, "delivered": 1}


def test_a_late_delivered_mark_replaces_a_failure_given_up_by_a_newer_claim(
    redis_client: redis.Redis, redis_settings: RedisSettings
) -> None:
    q = OutboxQueue(redis_client, redis_settings.key_prefix + "outbox")
    q.put(record("c"))
    old = q.claim("c:webhook:0", T0, lease_s=1)
    new = q.claim("c:webhook:0", T0 + timedelta(seconds=5), lease_s=1)
    assert old is not None
    assert new is not None
    t = T0 + timedelta(seconds=6)
    assert q.complete(new.failed_attempt("HTTP 400: gone", t, recoverable=False, policy=Backoff()), t)
    assert q.counts() == {"pending": 0, "failed": 1, "delivered": 0}
    assert q.complete(old.delivered(T0), t)  # the receiver did get the first attempt
    assert q.counts() == {"pending": 0, "failed": 0, "delivered": 1}
    assert q.failed() == []
    # a later failure never replaces the delivery
    assert not q.complete(new.failed_attempt("late", t, recoverable=False, policy=Backoff()), t)
    assert q.get("c:webhook:0").status == "delivered"  # type: ignore[union-attr]
