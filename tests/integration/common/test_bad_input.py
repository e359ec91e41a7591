"""Every kind of bad record lands in the dead-letter topic with its reason; the runner keeps consuming;
/metrics counts it; /readyz is 503 before the partition assignment and 200 after."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

import httpx
import pytest
from confluent_kafka import Producer

from mlmon_common import topics
from mlmon_common.devstack import free_port
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import Item, Rejected
from mlmon_common.service import ServiceRuntime
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings, ServiceSettings
from mlmon_common.testing import consume_n, serve_in_thread, wait_for

GOOD = PredictionEvent(model_id="m1", prediction_id="good", features={"x": 1.0}, prediction=1).model_dump(mode="json")

BAD_CASES: dict[str, tuple[bytes, str, str]] = {
    # name: (payload, expected error class header, substring of the reason header)
    "malformed_json": (b'{"event_type": "prediction", "model_id": ', "ValidationError", "Invalid JSON"),
    "wrong_type": (
        json.dumps(GOOD | {"latency_ms": "fast"}).encode(),
        "ValidationError",
        "latency_ms: Input should be a valid number",
    ),
    "missing_field": (
        json.dumps({k: v for k, v in GOOD.items() if k != "prediction_id"}).encode(),
        "ValidationError",
        "prediction.prediction_id: Field required",
    ),
    "nan": (json.dumps(GOOD | {"score": float("nan")}).encode(), "ValidationError", "prediction.score"),
    "infinity": (json.dumps(GOOD | {"latency_ms": float("inf")}).encode(), "ValidationError", "prediction.latency_ms"),
    "unknown_event_type": (json.dumps(GOOD | {"event_type": "telemetry"}).encode(), "ValidationError", "telemetry"),
    "naive_timestamp": (
        json.dumps(GOOD | {"occurred_at": "2026-11-27T10:00:00"}).encode(),
        "ValidationError",
        "occurred_at: Input should have timezone info",
    ),
    "two_megabytes": (
        json.dumps(GOOD | {"tags": {"blob": "x" * (2 * 1024 * 1024)}}).encode(),
        "PayloadTooLarge",
        "exceeds the 1048576-byte limit",
    ),
    "wrong_topic_type": (
        json.dumps({"event_type": "label", "model_id": "m1", "prediction_id": "p", "label": 1}).encode(),
        "WrongEventType",
        "event_type 'label' not allowed on this topic",
    ),
}


@pytest.fixture
def runtime(kafka: KafkaSettings, redis_settings: RedisSettings) -> ServiceRuntime:
    settings = ServiceSettings(kafka=kafka, redis=redis_settings, http=HttpSettings(port=free_port()))
    return ServiceRuntime("badinput", settings)


def _raw_producer(kafka: KafkaSettings) -> Producer:
    return Producer(kafka.client_config() | {"message.max.bytes": 8 * 1024 * 1024})


def test_each_bad_record_is_dead_lettered_and_counted(kafka: KafkaSettings, runtime: ServiceRuntime) -> None:
    handled: list[str] = []

    def handle(items: Sequence[Item]) -> list[Rejected]:
        handled.extend(e.event_id for e, _ in items)
        return []

    runtime.consumer([topics.RAW_PREDICTIONS], handle)
    source = kafka.topic(topics.RAW_PREDICTIONS.name)
    producer = _raw_producer(kafka)
    for name, (payload, _cls, _reason) in BAD_CASES.items():
        producer.produce(source, payload, key=b"m1", headers=[("case", name.encode())])
    good = PredictionEvent(model_id="m1", prediction_id="after-the-bad-ones", prediction=0)
    producer.produce(source, good.to_json(), key=b"m1")
    assert producer.flush(30) == 0

    with serve_in_thread(runtime.app(), runtime.settings.http.port) as url:
        wait_for(lambda: good.event_id in handled, 60, "the good record after the bad ones")
        dead = consume_n(kafka, kafka.topic(topics.DEADLETTER.name), len(BAD_CASES), timeout_s=30)
        metrics = httpx.get(f"{url}/metrics").text

    assert handled == [good.event_id]  # bad ones never reached the handler
    by_offset = {int(dict(m.headers())["mlmon.source_offset"]): m for m in dead}
    for offset, (name, (payload, cls, reason)) in enumerate(BAD_CASES.items()):
        headers = {k: v.decode() for k, v in by_offset[offset].headers()}
        assert headers["mlmon.error_class"] == cls, name
        assert reason in headers["mlmon.reason"], (name, headers["mlmon.reason"])
        assert headers["mlmon.source_topic"] == source
        assert headers["mlmon.service"] == "badinput"
        assert by_offset[offset].value() == payload, f"{name}: the original bytes are kept"
    expected = {"ValidationError": 7, "PayloadTooLarge": 1, "WrongEventType": 1}
    for cls, n in expected.items():
        line = f'mlmon_deadlettered_total{{reason="{cls}",service="badinput",topic="{source}"}} {float(n)}'
        assert line in metrics, f"missing: {line}"
    assert f'mlmon_consumed_total{{service="badinput",topic="{source}"}} 10.0' in metrics
    assert f'mlmon_handled_total{{service="badinput",topic="{source}"}} 1.0' in metrics


def test_readyz_503_before_assignment_and_200_after(kafka: KafkaSettings, runtime: ServiceRuntime) -> None:
    gate = threading.Event()
    runner = runtime.consumer([topics.RAW_PREDICTIONS], lambda items: [])
    run = runner.run
    runner.run = lambda: (gate.wait(60), run())[1]  # type: ignore[method-assign]  # hold the join back
    with serve_in_thread(runtime.app(), runtime.settings.http.port) as url:
        try:
            before = httpx.get(f"{url}/readyz")
            assert before.status_code == 503
            assert before.json() == {"ready": False, "checks": {"consumer0": "waiting for partition assignment"}}
            assert httpx.get(f"{url}/healthz").status_code == 200  # alive while not ready
            gate.set()
            after = wait_for(lambda: _ready(f"{url}/readyz"), 30, "ready after assignment")
            assert after.json() == {"ready": True, "checks": {"consumer0": "ok"}}
            assert 'mlmon_ready{service="badinput"} 1.0' in httpx.get(f"{url}/metrics").text
        finally:
            gate.set()


def _ready(url: str) -> httpx.Response | None:
    resp = httpx.get(url, timeout=1)
    return resp if resp.status_code == 200 else None
