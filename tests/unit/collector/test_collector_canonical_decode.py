"""The raw topics' decoder: which raw predictions keep their bytes (data quality spliced in), and that a
spliced canonical record decodes to exactly the event a re-encoding gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mlmon_collector.canonical import MAX_SPLICED_BYTES, RawPrediction, decode_raw, quality_tail
from mlmon_collector.joiner_store import PENDING_FIELDS
from mlmon_collector.registry import FeatureSpec, ModelEntry, ModelRegistry
from mlmon_common.events import LabelEvent, OutcomeEvent, PredictionEvent, decode_event

REGISTRY = ModelRegistry(
    [
        ModelEntry(
            model_id="m",
            task="classification",
            features=[
                FeatureSpec(name="x", type="number", min=0, max=10),
                FeatureSpec(name="n", type="integer"),
                FeatureSpec(name="c", type="category", categories=["a", "b"]),
                FeatureSpec(name="b", type="boolean"),
                FeatureSpec(name="s", type="string", nullable=True),
            ],
        )
    ]
)
CLEAN_FEATURES: dict[str, Any] = {"x": 1.5, "n": 3, "c": "a", "b": True, "s": None}
ENVELOPE: dict[str, Any] = {"event_id": "e-1", "occurred_at": "2026-11-27T09:00:00Z", "model_id": "m"}


def _raw(**fields: Any) -> bytes:
    doc = ENVELOPE | {"event_type": "prediction", "prediction_id": "p1", "features": CLEAN_FEATURES} | fields
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


def _canonical(decoded: Any) -> bytes:
    """What the stage publishes for a decoded raw record."""
    if isinstance(decoded, RawPrediction):
        return decoded.head + quality_tail(REGISTRY.check(decoded.event))
    return REGISTRY.enrich(decoded).to_json()


SDK = PredictionEvent(
    event_id="e-2", model_id="m", prediction_id="p2", features=CLEAN_FEATURES, prediction=1, score=0.5
).to_json()

KEPT = {
    "sdk encoding (data_quality null)": SDK,
    "sdk encoding, schema violations": SDK.replace(b'"x":1.5', b'"x":99.0,"zz":1'),
    "minimal, no data_quality": _raw(),
    "whitespace and newline": b"  " + _raw(prediction=1).replace(b", ", b" ,  ") + b" \n",
    "unregistered model": _raw(model_id="other"),
    "int for a float field": _raw(score=1, latency_ms=3),
    "unicode escapes": _raw(host="h\u00e9", tags={"k": "\u2603"}),
}
REENCODED = {
    "unknown top-level field": _raw(extra_field=1),
    "coerced number": _raw(latency_ms="3.5"),
    "timestamp as a number": _raw(occurred_at=1_790_000_000),
    "no event_id (drawn at decode)": _raw(event_id=...),
    "no occurred_at (drawn at decode)": _raw(occurred_at=...),
    "data_quality given by the producer": _raw(data_quality={"unregistered_model": True}),
    "data_quality null, not last": _raw(data_quality=None, prediction=1),
    "too large to keep": _raw(tags={"k": "v" * MAX_SPLICED_BYTES}),
}


@pytest.mark.parametrize("raw", KEPT.values(), ids=KEPT.keys())
def test_kept_bytes_decode_to_the_reencoded_event(raw: bytes) -> None:
    decoded = decode_raw(raw)
    assert type(decoded) is RawPrediction
    expected = REGISTRY.enrich(decode_event(raw))
    assert decode_event(_canonical(decoded)) == expected
    pending = decode_event(decoded.pending())
    assert pending.data_quality is None
    assert pending.model_dump(include=set(PENDING_FIELDS)) == expected.model_dump(include=set(PENDING_FIELDS))


@pytest.mark.parametrize("raw", REENCODED.values(), ids=REENCODED.keys())
def test_other_valid_predictions_are_reencoded(raw: bytes) -> None:
    decoded = decode_raw(raw)
    assert type(decoded) is PredictionEvent
    assert decoded.data_quality is None or "data_quality" in json.loads(raw)
    canonical = _canonical(decoded)
    assert canonical == REGISTRY.enrich(decoded).to_json()
    assert b"extra_field" not in canonical


def test_spliced_quality_replaces_a_null_one() -> None:
    decoded = decode_raw(SDK)
    assert isinstance(decoded, RawPrediction)
    canonical = _canonical(decoded)
    assert canonical.count(b'"data_quality"') == 1
    assert json.loads(canonical)["data_quality"] == json.loads(REGISTRY.check(decoded.event).model_dump_json())


def test_labels_and_other_types_use_the_contract_decoder() -> None:
    label = LabelEvent(model_id="m", prediction_id="p1", label=1).to_json()
    assert decode_raw(label) == decode_event(label)
    assert decode_raw(label.replace(b'"label":1', b'"label":1,"x":2')) == decode_event(label)
    outcome = OutcomeEvent(model_id="m", prediction_id="p", label=1, predicted_at=ENVELOPE["occurred_at"],
                           labelled_at=ENVELOPE["occurred_at"]).to_json()  # fmt: skip
    assert type(decode_raw(outcome)) is OutcomeEvent  # the runner dead-letters it: wrong type for the topic


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        _raw(prediction_id=""),
        _raw(event_type=...),
        _raw(score=float("nan")).replace(b"NaN", b"1e999"),
    ],
)
def test_invalid_records_raise_the_contract_error(raw: bytes) -> None:
    with pytest.raises(ValidationError) as raised:
        decode_raw(raw)
    with pytest.raises(ValidationError) as expected:
        decode_event(raw)
    assert raised.value.errors() == expected.value.errors()
