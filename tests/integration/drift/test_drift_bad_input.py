"""Poison records on each consumed topic go to the dead-letter topic with the runner's headers and the agents
keep going; HTTP bad inputs get 401/404/413/415/422 with a clear message; uploads and resets reach the worker."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from mlmon_common import topics
from mlmon_common.events import OutcomeEvent
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import consume_n, wait_for

POISON = {
    "malformed_json": b'{"event_type": "prediction", "model_id": ',
    "wrong_event_type": json.dumps({"event_type": "label", "model_id": "m", "prediction_id": "p", "label": 1}).encode(),
    "naive_timestamp": json.dumps(
        {"event_type": "prediction", "model_id": "m", "prediction_id": "p", "occurred_at": "2026-01-01T00:00:00"}
    ).encode(),
}


def _headers(msg: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in msg.headers() or []}


def test_poison_records_are_dead_lettered_and_agents_continue(
    kafka: KafkaSettings, workers: Any, feed: Any, helpers: Any
) -> None:
    worker = workers.start()
    raw = Producer(kafka.client_config())
    for topic in (topics.PREDICTIONS, topics.OUTCOMES):
        for payload in POISON.values():
            raw.produce(kafka.topic(topic.name), payload, key=b"m")
    raw.produce(kafka.topic(topics.OUTCOMES.name), b"\xff\xfe not json", key=b"m")
    assert raw.flush(10) == 0
    events = helpers.scenario_events("after", "control", 320, 100)
    feed(events)
    first = events[0]
    outcome = OutcomeEvent(
        model_id="after",
        prediction_id=first.prediction_id,
        label=True,
        prediction=True,
        correct=True,
        predicted_at=first.occurred_at,
        labelled_at=first.occurred_at,
    )
    feed([outcome], topics.OUTCOMES.name)

    dead = consume_n(kafka, kafka.topic(topics.DEADLETTER.name), 2 * len(POISON) + 1, timeout_s=30)
    by_topic: dict[str, list[dict[str, str]]] = {}
    for msg in dead:
        h = _headers(msg)
        by_topic.setdefault(h[topics.DLQ_SOURCE_TOPIC], []).append(h)
        assert h[topics.DLQ_SERVICE] == "drift"
        assert h[topics.DLQ_ERROR_CLASS] == "ValidationError"
        assert h[topics.DLQ_SOURCE_OFFSET].isdigit()
        assert h[topics.DLQ_SOURCE_PARTITION].isdigit()
    assert len(by_topic[kafka.topic(topics.PREDICTIONS.name)]) == len(POISON)
    assert len(by_topic[kafka.topic(topics.OUTCOMES.name)]) == len(POISON) + 1
    reasons = " | ".join(h[topics.DLQ_REASON] for h in by_topic[kafka.topic(topics.PREDICTIONS.name)])
    assert "Invalid JSON" in reasons
    assert "Input should be 'prediction'" in reasons
    assert "timezone" in reasons

    state = helpers.wait_processed(worker.url, "after", len(events))
    wait_for(
        lambda: helpers.wait_processed(worker.url, "after", len(events))["concept"]["outcomes"] == 1,
        20,
        "the outcome after the poison records",
    )
    assert state["reference"]["version"] == 1
    metrics = httpx.get(f"{worker.url}/metrics", timeout=5).text
    outcomes_topic = kafka.topic(topics.OUTCOMES.name)
    assert f'mlmon_drift_deadlettered_total{{reason="ValidationError",topic="{outcomes_topic}"}} 4.0' in metrics
    assert httpx.get(f"{worker.url}/readyz", timeout=5).status_code == 200
    assert worker.terminate(timeout_s=10) < 10  # SIGTERM stops the faust worker and the HTTP server
    assert worker.proc.returncode == 0, worker.tail()


CSV = "x,plan\n" + "".join(f"{i % 7}.5,{'a' if i % 3 else 'b'}\n" for i in range(40))


@pytest.fixture
def api(workers: Any) -> Any:
    return workers.start(MLMON_HTTP_MAX_BODY_BYTES="65536")


def test_http_bad_inputs(api: Any, helpers: Any) -> None:
    url, auth = api.url, helpers.auth
    put = f"{url}/v1/models/churn/reference"
    csv_type = {"content-type": "text/csv"}
    assert httpx.put(put, content=CSV, headers=csv_type).status_code == 401
    assert httpx.put(put, content=CSV, headers={**csv_type, "X-API-Key": "wrong"}).status_code == 401
    r = httpx.put(put, content=CSV, headers={**auth, "content-type": "application/xml"})
    assert r.status_code == 415
    assert "content-type must be one of" in r.json()["detail"]
    r = httpx.put(put, content=b"[{", headers={**auth, "content-type": "application/json"})
    assert r.status_code == 422
    assert "invalid JSON" in r.json()["detail"]
    r = httpx.put(put, content=b'{"x": 1}', headers={**auth, "content-type": "application/json"})
    assert r.status_code == 422
    assert "array of row objects" in r.json()["detail"]
    r = httpx.put(put, content=b'{"x": 1}\n{"x": [1]}\n', headers={**auth, "content-type": "application/x-ndjson"})
    assert r.status_code == 422
    assert "feature 'x' must be a number" in r.json()["detail"]
    r = httpx.put(put, content="x\n1\n2\n", headers={**auth, **csv_type})
    assert r.status_code == 422
    assert "at least 20 rows" in r.json()["detail"]
    r = httpx.put(put, content="x\n" + "1\n" * 40_000, headers={**auth, **csv_type})
    assert r.status_code == 413
    r = httpx.put(f"{url}/v1/models/bad%20id/reference", content=CSV, headers={**auth, **csv_type})
    assert r.status_code == 422
    assert httpx.get(f"{url}/v1/models/nobody/reference").status_code == 404
    assert httpx.get(f"{url}/v1/models/nobody/drift").status_code == 404
    assert httpx.post(f"{url}/v1/models/nobody/reference/reset", headers=auth).status_code == 404
    assert httpx.post(f"{url}/v1/models/nobody/reference/reset").status_code == 401
    r = httpx.post(f"{url}/v1/drift/detect", json={"reference": {"x": [1, 2]}})
    assert r.status_code == 422
    r = httpx.post(f"{url}/v1/drift/detect", json={"reference": {"x": [1.0, 2.0]}, "current": {"y": [1.0]}})
    assert r.status_code == 422
    assert "share no column" in r.json()["detail"]
    r = httpx.post(f"{url}/v1/models/churn/model-drift", json={"performance_history": [{"note": "x"}]})
    assert r.status_code == 422
    assert "no numeric metric column" in r.json()["detail"]
    r = httpx.post(f"{url}/v1/models/churn/model-drift", json={"performance_history": []})
    assert r.status_code == 422


def test_http_reference_upload_reset_and_batch_endpoints(api: Any, feed: Any, helpers: Any) -> None:
    url, auth = api.url, helpers.auth
    rows = [{"x": float(i % 10), "plan": "a" if i % 4 else "b"} for i in range(200)]
    r = httpx.put(f"{url}/v1/models/up/reference", json=rows, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    assert r.json()["source"] == "upload"
    assert r.json()["n_events"] == 200
    ndjson = "\n".join(json.dumps(row) for row in rows)
    r = httpx.put(
        f"{url}/v1/models/up/reference", content=ndjson, headers={**auth, "content-type": "application/x-ndjson"}
    )
    assert r.status_code == 201
    assert r.json()["version"] == 2
    got = httpx.get(f"{url}/v1/models/up/reference").json()
    assert got["version"] == 2
    assert got["versions"] == [1, 2]
    assert got["categorical"]["plan"]["levels"]["a"] == 150
    assert httpx.get(f"{url}/v1/models/up/reference", params={"version": 1}).json()["version"] == 1

    events = helpers.scenario_events("up", "control", 10, 5)
    feed([e.model_copy(update={"features": {"x": float(i % 10), "plan": "a"}}) for i, e in enumerate(events)])
    state = helpers.wait_processed(url, "up", 10)
    assert state["reference"] == {"version": 2, "building": False, "collected": None, "size": 300}

    r = httpx.post(f"{url}/v1/models/up/reference/reset", headers=auth)
    assert r.status_code == 202
    wait_for(
        lambda: httpx.get(f"{url}/v1/models/up/drift").json()["reference"]["building"], 20, "reference reset applied"
    )

    body = {"reference": rows, "current": {"x": [float(i % 10) + 5 for i in range(200)], "plan": ["a", "b"] * 100}}
    report = httpx.post(f"{url}/v1/drift/detect", json=body).json()
    assert report["features"]["x"]["drifted"] is True
    assert report["features"]["plan"]["drifted"] is True
    history = [{"accuracy": 0.95, "timestamp": i} for i in range(10)] + [
        {"accuracy": 0.76, "timestamp": 10 + i} for i in range(5)
    ]
    report = httpx.post(f"{url}/v1/models/up/model-drift", json={"performance_history": history}).json()
    assert report["drifted"] is True
    assert report["worst_metric"] == "accuracy"
    assert report["threshold"] == 0.15
