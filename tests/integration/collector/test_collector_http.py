"""HTTP ingest and the model registry API on a running collector (real HTTP, broker and Redis):
401 without/with a wrong key, 413 above the body limit, 415 for other content types, per-item errors
(index and field) in a 207 or a 422, valid items on the raw topics; models registered over HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mlmon_collector.config import CollectorConfig
from mlmon_collector.registry import ModelEntry
from mlmon_common import topics

CONFIG = CollectorConfig(models=[ModelEntry(model_id="fixed", task="regression")])
AUTH = {"X-API-Key": "collector-test-key-0123"}
GOOD = {"model_id": "churn", "prediction_id": "h1", "features": {"age": 41}, "prediction": 1}


@pytest.fixture
def svc(start_collector: Any) -> Any:
    with start_collector(CONFIG, canonical_enabled=False, metrics_enabled=False, max_body_bytes=4096) as running:
        yield running


def test_api_key_is_required(svc: Any) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        resp = httpx.post(f"{svc.url}/v1/predictions", json=[GOOD], headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json() == {"detail": "missing or wrong API key"}
    assert httpx.put(f"{svc.url}/v1/models/m", json={"model_id": "m", "task": "regression"}).status_code == 401
    bearer = {"Authorization": "Bearer collector-test-key-0123"}
    assert httpx.post(f"{svc.url}/v1/labels", json=[{"model_id": "m", "prediction_id": "p", "label": 1}],
                      headers=bearer).status_code == 202  # fmt: skip


def test_oversized_body_is_413(svc: Any) -> None:
    big = [GOOD | {"prediction_id": f"h{i}", "tags": {"pad": "x" * 100}} for i in range(60)]
    resp = httpx.post(f"{svc.url}/v1/predictions", json=big, headers=AUTH)
    assert resp.status_code == 413
    assert resp.json() == {"detail": "request body exceeds the limit of 4096 bytes"}


def test_per_item_errors_207_and_422_and_valid_items_reach_the_raw_topic(svc: Any, reader: Any) -> None:
    batch = [
        GOOD,
        {"model_id": "churn", "features": {"age": 41}},  # no prediction_id
        GOOD | {"prediction_id": "h3", "latency_ms": -1},
        "not an object",
        GOOD | {"prediction_id": "h5", "occurred_at": "2026-11-27T10:00:00+00:00"},
    ]
    resp = httpx.post(f"{svc.url}/v1/predictions", json=batch, headers=AUTH)
    assert resp.status_code == 207
    body = resp.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "prediction_id"),
        (2, "latency_ms"),
        (3, "<item>"),
    ]
    assert "greater than or equal to 0" in body["errors"][1]["message"]
    raw = reader.read(topics.RAW_PREDICTIONS.name, 2)
    assert sorted(e.prediction_id for e in raw) == ["h1", "h5"]
    assert sorted(e.event_id for e in raw) == sorted(body["event_ids"])

    none_valid = httpx.post(f"{svc.url}/v1/labels", json=[{"model_id": "m", "label": 1}, {"label": [1]}], headers=AUTH)
    assert none_valid.status_code == 422
    fields = [(e["index"], e["field"]) for e in none_valid.json()["errors"]]
    assert (0, "prediction_id") in fields
    assert (1, "model_id") in fields
    assert none_valid.json()["accepted"] == 0


def test_ndjson_and_whole_body_errors(svc: Any, reader: Any) -> None:
    lines = [json.dumps({"model_id": "m", "prediction_id": f"n{i}", "label": i}) for i in range(3)]
    body = "\n".join([lines[0], "", lines[1], "{broken", lines[2]]) + "\n"
    resp = httpx.post(f"{svc.url}/v1/labels", content=body, headers=AUTH | {"Content-Type": "application/x-ndjson"})
    assert resp.status_code == 207
    assert resp.json()["errors"][0]["index"] == 2
    assert resp.json()["errors"][0]["message"].startswith("line is not valid JSON")
    assert sorted(e.prediction_id for e in reader.read(topics.RAW_LABELS.name, 3)) == ["n0", "n1", "n2"]

    post = lambda content, ctype: httpx.post(  # noqa: E731
        f"{svc.url}/v1/predictions", content=content, headers=AUTH | {"Content-Type": ctype}
    )
    assert post(b"[1,", "application/json").status_code == 400
    not_array = post(b'{"model_id": "m"}', "application/json")
    assert not_array.status_code == 422
    assert not_array.json() == {"detail": "body must be a JSON array of events, got a JSON dict"}
    assert post(b"[]", "application/json").json() == {"detail": "body contains no items"}
    assert post(b"a,b", "text/csv").status_code == 415


def test_model_registry_api(svc: Any) -> None:
    url = f"{svc.url}/v1/models"
    entry = {
        "model_id": "churn",
        "task": "classification",
        "positive_label": 1,
        "features": [{"name": "age", "type": "integer", "min": 0, "max": 120}],
    }
    assert httpx.put(f"{url}/churn", json=entry, headers=AUTH).status_code == 201
    assert httpx.put(f"{url}/churn", json=entry, headers=AUTH).status_code == 200
    listing = httpx.get(url).json()["models"]
    assert [(m["model_id"], m["source"]) for m in listing] == [("churn", "api"), ("fixed", "config")]
    assert httpx.get(f"{url}/churn").json()["features"][0]["max"] == 120
    assert svc.app.state.catalog.registry().get("churn") is not None

    mismatch = httpx.put(f"{url}/other", json=entry, headers=AUTH)
    assert mismatch.status_code == 422
    assert "differs from the path" in mismatch.json()["detail"]
    bad = httpx.put(f"{url}/churn", json=entry | {"task": "ranking"}, headers=AUTH)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "task"
    fixed = httpx.put(f"{url}/fixed", json={"model_id": "fixed", "task": "regression"}, headers=AUTH)
    assert fixed.status_code == 409
    assert httpx.delete(f"{url}/fixed", headers=AUTH).status_code == 409
    assert httpx.delete(f"{url}/churn", headers=AUTH).status_code == 204
    assert httpx.delete(f"{url}/churn", headers=AUTH).status_code == 404
    assert httpx.get(f"{url}/churn").status_code == 404
