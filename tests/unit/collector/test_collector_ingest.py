"""Parsing of HTTP ingest bodies: JSON arrays and NDJSON, per-item errors with index and field, whole-body
errors with their HTTP status."""

from __future__ import annotations

import json

import pytest

from mlmon_collector.ingest import BodyError, ItemError, body_format, parse_batch
from mlmon_common.events import LabelEvent, PredictionEvent

GOOD = {"model_id": "m", "prediction_id": "p1", "features": {"a": 1}, "prediction": 0}


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("Application/JSON", "json"),
        ("application/x-ndjson", "ndjson"),
        ("application/jsonl", "ndjson"),
    ],
)
def test_body_format(content_type: str, fmt: str) -> None:
    assert body_format(content_type) == fmt


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/xml"])
def test_unsupported_content_type_is_415(content_type: str | None) -> None:
    with pytest.raises(BodyError) as exc:
        body_format(content_type)
    assert exc.value.status == 415
    assert "Content-Type must be one of" in exc.value.message


def test_json_array_items_are_validated_one_by_one() -> None:
    items = [GOOD, GOOD | {"score": "high"}, 7, GOOD | {"prediction_id": "p4", "event_type": "label"}, {}]
    batch = parse_batch(json.dumps(items).encode(), "json", PredictionEvent)
    assert [i for i, _ in batch.events] == [0]
    assert batch.errors[:2] == [
        ItemError(1, "score", "Input should be a valid number, unable to parse string as a number"),
        ItemError(2, "<item>", "must be a JSON object, got int"),
    ]
    assert (batch.errors[2].index, batch.errors[2].field) == (3, "event_type")
    assert {(e.index, e.field) for e in batch.errors[3:]} == {(4, "model_id"), (4, "prediction_id")}
    assert batch.size == 5


def test_nan_and_naive_timestamps_are_item_errors() -> None:
    body = b'[{"model_id": "m", "prediction_id": "p", "label": NaN}, ' + json.dumps(
        {"model_id": "m", "prediction_id": "q", "label": 1, "occurred_at": "2026-01-01T00:00:00"}
    ).encode() + b"]"  # fmt: skip
    batch = parse_batch(body, "json", LabelEvent)
    assert batch.events == []
    assert ItemError(0, "label.float", "Input should be a finite number") in batch.errors
    assert ItemError(1, "occurred_at", "Input should have timezone info") in batch.errors
    assert {e.index for e in batch.errors} == {0, 1}


def test_ndjson_skips_blank_lines_and_reports_bad_lines() -> None:
    body = b"\n".join(
        [json.dumps(GOOD).encode(), b"", b"   ", b"{nope", json.dumps(GOOD | {"prediction_id": "p2"}).encode()]
    )
    batch = parse_batch(body, "ndjson", PredictionEvent)
    assert [(i, e.prediction_id) for i, e in batch.events] == [(0, "p1"), (2, "p2")]
    assert batch.errors[0].index == 1
    assert batch.errors[0].message.startswith("line is not valid JSON")


@pytest.mark.parametrize(
    ("body", "fmt", "status", "message"),
    [
        (b"[1, ", "json", 400, "body is not valid JSON"),
        (b'{"model_id": "m"}', "json", 422, "body must be a JSON array of events, got a JSON dict"),
        (b"[]", "json", 422, "body contains no items"),
        (b"\n\n", "ndjson", 422, "body contains no items"),
        (b"\xff\xfe", "json", 400, "body is not valid JSON"),
    ],
)
def test_whole_body_errors(body: bytes, fmt: str, status: int, message: str) -> None:
    with pytest.raises(BodyError) as exc:
        parse_batch(body, fmt, PredictionEvent)  # type: ignore[arg-type]
    assert exc.value.status == status
    assert message in exc.value.message
