"""The SDK's fast pre-check never accepts what the contract rejects (property test), and the Monitor
never raises into the caller: invalid input is counted, numpy-like scalars are converted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from mlmon_common.events import PredictionEvent
from mlmon_sdk import Monitor
from mlmon_sdk.fastpath import plain, prediction_json, prediction_ok

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=2),
)
keys = st.one_of(st.text(max_size=12), st.integers())


@settings(max_examples=400, deadline=None)
@given(
    features=st.dictionaries(keys, scalars, max_size=6),
    prediction=scalars,
    score=scalars,
    latency=scalars,
    pid=st.one_of(st.text(max_size=12), st.integers()),
)
def test_fast_check_is_stricter_than_the_contract(
    features: dict[Any, Any], prediction: Any, score: Any, latency: Any, pid: Any
) -> None:
    if not prediction_ok(features, prediction, score, None, latency, None, pid, None):
        return
    at = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    raw = prediction_json("m", "v1", pid, features, prediction, score, None, latency, None, "h", None, at)
    # what the fast path sends decodes under the full contract, to the same values
    decoded = PredictionEvent.model_validate_json(raw)
    expected = PredictionEvent(
        event_id=decoded.event_id,
        occurred_at=at,
        model_id="m",
        model_version="v1",
        prediction_id=pid,
        features=features,
        prediction=prediction,
        score=score,
        latency_ms=latency,
        host="h",
    )
    assert decoded == expected  # (bytes may differ: an int latency is written as 0, the model writes 0.0)


class _NumpyLike:
    def __init__(self, v: float) -> None:
        self.v = v

    def item(self) -> float:
        return self.v


def test_plain_unwraps_item() -> None:
    assert plain(_NumpyLike(2.5)) == 2.5
    assert plain("x") == "x"


@pytest.fixture
def offline_monitor() -> Iterator[Monitor]:
    # No broker listens on port 1: the SDK must still accept calls without blocking or raising.
    monitor = Monitor("m1", "v1", bootstrap="127.0.0.1:1", delivery_timeout_s=1, producer_config={"log_level": 0})
    yield monitor
    monitor._closed.set()  # do not wait for the 1 s delivery timeout in close()


def test_invalid_input_is_counted_not_raised(offline_monitor: Monitor) -> None:
    assert offline_monitor.log_prediction({"a": float("nan")}, 1) is None
    assert offline_monitor.log_prediction({"a": object()}, 1) is None  # type: ignore[dict-item]
    assert offline_monitor.log_prediction({"a": 1}, 1, latency_ms=-5) is None
    assert offline_monitor.log_label("bad id with spaces", 1) is False
    assert offline_monitor.stats.invalid == 4
    pid = offline_monitor.log_prediction({"a": _NumpyLike(1.5)}, _NumpyLike(1.0))  # type: ignore[dict-item]
    assert pid is not None
    assert offline_monitor.stats.queued == 1


def test_strict_mode_raises_the_validation_error() -> None:
    monitor = Monitor(
        "m1", bootstrap="127.0.0.1:1", strict=True, delivery_timeout_s=1, producer_config={"log_level": 0}
    )
    try:
        with pytest.raises(ValidationError, match="latency_ms"):
            monitor.log_prediction({"a": 1}, 1, latency_ms=-1)
    finally:
        monitor._closed.set()


def test_bad_model_id_fails_at_construction() -> None:
    with pytest.raises(ValidationError, match="model_id"):
        Monitor("has space", bootstrap="127.0.0.1:1")


def test_track_logs_failed_predictions_and_reraises(offline_monitor: Monitor) -> None:
    sent: list[bytes] = []
    offline_monitor._send = lambda payload, topic: sent.append(payload) or True  # type: ignore[method-assign]
    with pytest.raises(ZeroDivisionError), offline_monitor.track({"a": 1}) as call:
        call.prediction = 1 / 0
    with offline_monitor.track({"a": 2}) as call:
        call.prediction = "yes"
    failed, ok = (json.loads(p) for p in sent)
    assert failed["error"] == "ZeroDivisionError: division by zero"
    assert failed["prediction"] is None
    assert ok["prediction"] == "yes"
    assert ok["latency_ms"] >= 0
