"""The pure part of the late-label join: one (prediction, label) pair -> one outcome event.

The outcome's ``event_id`` is a UUID5 of the model and prediction id, so joining the same prediction
again (a replay, a duplicated label) yields an outcome with the same id and consumers dedupe it.
Its event time (``occurred_at``) is the label's time; ``predicted_at`` keeps the prediction's time
(metrics windows assign outcomes by it).

>>> from datetime import UTC, datetime
>>> t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
>>> p = PredictionEvent(model_id="eta", prediction_id="p1", prediction=12.5, occurred_at=t0)
>>> o = make_outcome(p, LabelEvent(model_id="eta", prediction_id="p1", label=10, occurred_at=t1), "regression")
>>> o.abs_error, o.correct, o.event_id == outcome_event_id("eta", "p1")
(2.5, None, True)
"""

from __future__ import annotations

import uuid

from mlmon_collector.metrics import Scalar, Task, canonical_label
from mlmon_common.events import LabelEvent, OutcomeEvent, PredictionEvent

#: Namespace of outcome ids (fixed forever: changing it would break replay idempotence).
OUTCOME_NAMESPACE = uuid.UUID("6f1d3c52-6a0e-5d3b-9f57-3c1f0b8f6a10")


def outcome_event_id(model_id: str, prediction_id: str) -> str:
    """Deterministic outcome id of one prediction."""
    return str(uuid.uuid5(OUTCOME_NAMESPACE, f"{model_id}\x00{prediction_id}"))


def _is_number(value: Scalar | None) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def score_outcome(prediction: Scalar | None, label: Scalar, task: Task) -> tuple[bool | None, float | None]:
    """(correct, abs_error) by task.

    classification: correct by canonical label; regression: ``|prediction - label|`` (None when
    either is not a number); unknown: both when they apply. A failed prediction (None) scores None.
    """
    if prediction is None:
        return None, None
    numeric = _is_number(prediction) and _is_number(label)
    abs_error = abs(float(prediction) - float(label)) if numeric else None
    correct = canonical_label(prediction) == canonical_label(label)
    if task == "classification":
        return correct, None
    if task == "regression":
        return None, abs_error
    return correct, abs_error


def make_outcome(prediction: PredictionEvent, label: LabelEvent, task: Task = "unknown") -> OutcomeEvent:
    """Join one prediction with its label. Raises ``ValueError`` if they do not belong together."""
    if label.model_id != prediction.model_id:
        raise ValueError(f"model_id: label is for {label.model_id!r}, prediction for {prediction.model_id!r}")
    if label.prediction_id != prediction.prediction_id:
        raise ValueError(
            f"prediction_id: label is for {label.prediction_id!r}, prediction is {prediction.prediction_id!r}"
        )
    correct, abs_error = score_outcome(prediction.prediction, label.label, task)
    return OutcomeEvent(
        event_id=outcome_event_id(prediction.model_id, prediction.prediction_id),
        occurred_at=label.occurred_at,
        model_id=prediction.model_id,
        prediction_id=prediction.prediction_id,
        task=task,
        model_version=prediction.model_version,
        features=prediction.features,
        prediction=prediction.prediction,
        label=label.label,
        score=prediction.score,
        correct=correct,
        abs_error=abs_error,
        predicted_at=prediction.occurred_at,
        labelled_at=label.occurred_at,
        latency_ms=prediction.latency_ms,
        label_value=label.value,
    )
