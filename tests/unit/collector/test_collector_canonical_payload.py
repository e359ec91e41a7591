"""What the join stores for a canonical prediction: the canonical encoding minus its data-quality block
when that is clean, else a compact dump; both decode to the same outcome inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlmon_collector.canonical import pending_payload
from mlmon_collector.joiner_store import PENDING_FIELDS, JoinStore, join_key
from mlmon_collector.registry import FeatureSpec, ModelEntry, ModelRegistry
from mlmon_common.events import PredictionEvent

REGISTRY = ModelRegistry([ModelEntry(model_id="m", task="regression", features=[FeatureSpec(name="x", type="number")])])
T0 = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize("features", [{"x": 1.5}, {"x": "oops"}, {"y": 1}])
def test_payload_keeps_what_an_outcome_needs(features: dict[str, object]) -> None:
    raw = PredictionEvent.model_validate(
        {"model_id": "m", "prediction_id": "p", "features": features, "prediction": 2.5, "score": 0.3,
         "latency_ms": 4.0, "occurred_at": T0, "tags": {"a": "b"}}
    )  # fmt: skip
    canonical = REGISTRY.enrich(raw)
    payload = pending_payload(canonical, canonical.to_json())
    back = PredictionEvent.model_validate_json(payload)
    assert back.model_dump(include=set(PENDING_FIELDS)) == canonical.model_dump(include=set(PENDING_FIELDS))
    assert b"data_quality" not in payload
    assert len(payload) <= len(canonical.to_json())


def test_clean_payload_reuses_the_encoding() -> None:
    canonical = REGISTRY.enrich(PredictionEvent(model_id="m", prediction_id="p", features={"x": 1.0}))
    encoded = canonical.to_json()
    payload = pending_payload(canonical, encoded)
    assert encoded.startswith(payload[:-1])
    assert b"data_quality" not in payload


def test_unclean_payload_is_the_compact_dump() -> None:
    canonical = REGISTRY.enrich(PredictionEvent(model_id="m", prediction_id="p", features={"x": "a"}))
    assert pending_payload(canonical, canonical.to_json()) == JoinStore.payload(canonical)


def test_join_key_is_16_bytes_and_separates_model_and_prediction() -> None:
    assert len(join_key("m", "p")) == 16
    assert join_key("ab", "c") != join_key("a", "bc")
    assert join_key("m", "p") == join_key("m", "p")
