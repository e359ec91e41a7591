"""The SDK on a model server's request path while the broker is DOWN: every ``log_prediction`` call returns
at once (events wait in the bounded in-memory queue), and once a broker listens on the same port again the
buffered events are delivered. tansu keeps no data across a restart, so the topic is created again first.

Two cases. ``default``: the SDK as shipped (idempotent producer), created while the broker is down.
``mid-run``: the broker goes away under a Monitor that already delivered; tansu also forgets producer ids on
restart (Apache Kafka keeps them), and librdkafka's idempotent producer then retries UNKNOWN_PRODUCER_ID
forever, so this case turns idempotence off — what is asserted (non-blocking calls, every buffered event
delivered after the restart) is unchanged."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mlmon_common import topics
from mlmon_common.devstack import free_port, port_open, start_broker, stop_process
from mlmon_common.kafka import ensure_topics, wait_for_broker
from mlmon_common.testing import consume_n, isolated_kafka, wait_for
from mlmon_sdk import Monitor

CALLS = 2000


@pytest.mark.parametrize("case", ["default", "mid-run"])
def test_log_prediction_never_blocks_while_the_broker_is_down_and_delivers_after(tmp_path: Path, case: str) -> None:
    port = free_port()
    pid, _log = start_broker(tmp_path, port)
    kafka = isolated_kafka(f"127.0.0.1:{port}", create=())
    try:
        wait_for_broker(kafka, 30)
        ensure_topics(kafka, [topics.RAW_PREDICTIONS])
        if case == "mid-run":  # delivered once, then the broker goes away
            no_idempotence: dict[str, Any] = {"enable.idempotence": False}
            monitor = Monitor("sdk-down", "v1", kafka=kafka, delivery_timeout_s=120, producer_config=no_idempotence)
            assert monitor.log_prediction({"x": 0.0}, 0, prediction_id="warm-up") == "warm-up"
            assert monitor.flush(30) == 0
        stop_process(pid)
        wait_for(lambda: not port_open("127.0.0.1", port), 10, "the broker to stop")
        if case == "default":  # the model server starts while the broker is down
            monitor = Monitor("sdk-down", "v1", kafka=kafka, delivery_timeout_s=120)
            assert monitor.log_prediction({"x": 0.0}, 0, prediction_id="warm-up") == "warm-up"
        delivered_before = 1 if case == "mid-run" else 0
        durations = []
        for i in range(CALLS):
            t0 = time.perf_counter()
            pid_i = monitor.log_prediction({"x": float(i), "plan": "pro"}, i % 2, score=0.5, prediction_id=f"d{i}")
            durations.append(time.perf_counter() - t0)
            assert pid_i == f"d{i}"
        durations.sort()
        assert durations[-1] < 0.05, f"slowest call {durations[-1] * 1000:.1f} ms"
        assert durations[len(durations) // 2] < 0.001, f"median call {durations[len(durations) // 2] * 1e6:.0f} us"
        stats = monitor.stats
        assert (stats.queued, stats.delivered, stats.dropped, stats.failed) == (CALLS + 1, delivered_before, 0, 0)
        assert stats.pending == CALLS + 1 - delivered_before

        pid, _log = start_broker(tmp_path, port)  # same port; an empty broker
        wait_for_broker(kafka, 30)
        ensure_topics(kafka, [topics.RAW_PREDICTIONS])
        wait_for(lambda: monitor.stats.delivered == CALLS + 1, 60, "buffered events delivered after the restart")
        assert monitor.stats.failed == 0
        monitor.close()
        got = consume_n(kafka, kafka.topic(topics.RAW_PREDICTIONS.name), CALLS + 1 - delivered_before, timeout_s=30)
        assert all(m.key() == b"sdk-down" for m in got)
        ids = {m.value().split(b'"prediction_id":"', 1)[1].split(b'"', 1)[0] for m in got}
        assert ids - {b"warm-up"} == {f"d{i}".encode() for i in range(CALLS)}
    finally:
        stop_process(pid)
