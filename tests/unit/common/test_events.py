"""The event contract: what is accepted, what is rejected and with which message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from mlmon_common.events import (
    EVENT_TYPES,
    AlertEvent,
    LabelEvent,
    PredictionEvent,
    Severity,
    decode_event,
    json_schemas,
    new_event_id,
)

SCHEMAS = Path(__file__).parents[3] / "schemas"


def _pred(**over: object) -> bytes:
    doc = {"event_type": "prediction", "model_id": "m", "prediction_id": "p1", "features": {"a": 1.5}, "prediction": 1}
    doc.update(over)
    return json.dumps(doc).encode()


def _messages(raw: bytes) -> list[str]:
    with pytest.raises(ValidationError) as info:
        decode_event(raw)
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in info.value.errors()]


def test_defaults_fill_the_envelope() -> None:
    ev = decode_event(_pred())
    assert isinstance(ev, PredictionEvent)
    assert ev.schema_version == 1
    assert ev.occurred_at.tzinfo is not None
    assert len(ev.event_id) == 36
    assert ev.key == b"m"


def test_unknown_fields_are_ignored_but_wrong_types_rejected() -> None:
    assert decode_event(_pred(new_field={"x": 1})).model_id == "m"
    assert _messages(_pred(latency_ms="slow")) == [
        "prediction.latency_ms: Input should be a valid number, unable to parse string as a number"
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_pred(occurred_at="2026-01-01T00:00:00"), "prediction.occurred_at: Input should have timezone info"),
        (_pred(score=float("nan")), "prediction.score: Input should be a finite number"),
        (_pred(latency_ms=-1), "prediction.latency_ms: Input should be greater than or equal to 0"),
        (_pred(model_id=""), "prediction.model_id: String should have at least 1 character"),
        (_pred(model_id="has space"), "prediction.model_id: String should match pattern"),
        (_pred(schema_version=2), "prediction.schema_version: Input should be 1"),
        (
            json.dumps({"event_type": "prediction", "model_id": "m"}).encode(),
            "prediction.prediction_id: Field required",
        ),
        (json.dumps({"model_id": "m"}).encode(), "Unable to extract tag using discriminator 'event_type'"),
        (json.dumps({"event_type": "nope", "model_id": "m"}).encode(), "Input tag 'nope' found using 'event_type'"),
        (b"[1, 2]", "Input should be an object"),
        (b"\xff\xfe", "Invalid JSON"),
    ],
)
def test_rejections_name_the_field(raw: bytes, expected: str) -> None:
    assert any(expected in m for m in _messages(raw)), _messages(raw)


def test_nan_in_features_is_rejected() -> None:
    raw = _pred().replace(b"1.5", b"NaN")
    assert _messages(raw)  # a feature value must be a finite number, a string, a bool or null


def test_events_are_frozen() -> None:
    ev = LabelEvent(model_id="m", prediction_id="p", label=1)
    with pytest.raises(ValidationError, match="frozen"):
        ev.label = 2  # type: ignore[misc]


def test_round_trip_every_type_through_json() -> None:
    alert = AlertEvent(
        model_id="m",
        fingerprint="abc",
        alertname="DataDrift",
        status="firing",
        severity=Severity.WARNING,
        labels={"model_id": "m"},
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert decode_event(alert.to_json()) == alert
    assert json.loads(alert.to_json())["severity"] == 2


def test_event_ids_are_unique_uuid4() -> None:
    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(i[14] == "4" and i[19] in "89ab" for i in list(ids)[:100])


def test_committed_json_schemas_match_the_code() -> None:
    """`mlmon schemas export` regenerates schemas/; non-Python producers validate against these files."""
    for name, schema in json_schemas().items():
        path = SCHEMAS / f"{name}.v1.json"
        assert path.exists(), f"{path} missing: run `uv run mlmon schemas export`"
        assert json.loads(path.read_text()) == schema, f"{path} is stale: run `uv run mlmon schemas export`"
    assert set(EVENT_TYPES) == {p.name.split(".")[0] for p in SCHEMAS.glob("*.v1.json")}
