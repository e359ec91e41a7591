from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mlmon_collector.join import OUTCOME_NAMESPACE, make_outcome, outcome_event_id, score_outcome
from mlmon_common.events import LabelEvent, OutcomeEvent, PredictionEvent, decode_event

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=5)


def _pred(prediction: object = 1, **kw: object) -> PredictionEvent:
    base: dict[str, object] = {
        "model_id": "churn",
        "prediction_id": "p-42",
        "model_version": "v3",
        "prediction": prediction,
        "score": 0.91,
        "latency_ms": 12.0,
        "occurred_at": T0,
    }
    return PredictionEvent.model_validate({**base, **kw})


def _label(label: object = 1, **kw: object) -> LabelEvent:
    base: dict[str, object] = {
        "model_id": "churn",
        "prediction_id": "p-42",
        "label": label,
        "value": 7.5,
        "occurred_at": T1,
    }
    return LabelEvent.model_validate({**base, **kw})


def test_classification_outcome_copies_fields() -> None:
    out = make_outcome(_pred(1), _label("1"), "classification")
    assert out == OutcomeEvent(
        event_id=str(uuid.uuid5(OUTCOME_NAMESPACE, "churn\x00p-42")),
        occurred_at=T1,
        model_id="churn",
        prediction_id="p-42",
        task="classification",
        model_version="v3",
        features=_pred(1).features,
        prediction=1,
        label="1",
        score=0.91,
        correct=True,
        abs_error=None,
        predicted_at=T0,
        labelled_at=T1,
        latency_ms=12.0,
        label_value=7.5,
    )
    assert decode_event(out.to_json()) == out


def test_outcome_id_is_deterministic_across_replays_and_duplicate_labels() -> None:
    first = make_outcome(_pred(), _label(event_id="l1"), "classification")
    again = make_outcome(_pred(event_id="other"), _label(event_id="l2"), "classification")
    assert first.event_id == again.event_id == outcome_event_id("churn", "p-42")
    assert outcome_event_id("churn", "p-43") != first.event_id
    assert outcome_event_id("fraud", "p-42") != first.event_id


def test_regression_outcome() -> None:
    out = make_outcome(_pred(12.5), _label(10), "regression")
    assert (out.correct, out.abs_error) == (None, 2.5)


@pytest.mark.parametrize(
    ("prediction", "label", "task", "expected"),
    [
        (1, 0, "classification", (False, None)),
        (True, "true", "classification", (True, None)),
        ("cat", "cat", "unknown", (True, None)),
        (3, 5.5, "unknown", (False, 2.5)),
        (4, 4, "unknown", (True, 0.0)),
        ("x", 5, "regression", (None, None)),
        (True, 1, "regression", (None, None)),
        (None, 1, "classification", (None, None)),
        (None, 1, "regression", (None, None)),
    ],
)
def test_score_outcome(prediction: object, label: object, task: str, expected: tuple[object, object]) -> None:
    assert score_outcome(prediction, label, task) == expected  # type: ignore[arg-type]


def test_failed_prediction_still_yields_one_outcome() -> None:
    out = make_outcome(_pred(None, error="timeout"), _label(1), "classification")
    assert out.prediction is None
    assert out.correct is None
    assert out.event_id == outcome_event_id("churn", "p-42")


def test_mismatched_pairs_are_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="model_id: label is for 'fraud', prediction for 'churn'"):
        make_outcome(_pred(), _label(model_id="fraud"))
    with pytest.raises(ValueError, match="prediction_id: label is for 'p-1', prediction is 'p-42'"):
        make_outcome(_pred(), _label(prediction_id="p-1"))
