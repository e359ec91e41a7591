from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from mlmon_collector.business import ValueModel
from mlmon_collector.registry import ModelEntry, ModelRegistry
from mlmon_collector.windows import MetricsWindows, metrics_event_id
from mlmon_common import metric_names as mn
from mlmon_common.events import MetricsEvent, OutcomeEvent, PredictionEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # a window boundary for 60 s windows
REGISTRY = ModelRegistry(
    [
        ModelEntry(
            model_id="churn",
            task="classification",
            positive_label=1,
            value_model=ValueModel(gain_per_tp=10, cost_per_fp=2, cost_per_fn=5),
        ),
        ModelEntry(model_id="eta", task="regression"),
    ]
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pred(pid: str, t: float, latency_ms: float | None = None, model: str = "churn", **kw: Any) -> PredictionEvent:
    fields: dict[str, Any] = {"prediction": 1, "latency_ms": latency_ms, **kw}
    return PredictionEvent(model_id=model, prediction_id=pid, occurred_at=at(t), **fields)


def outcome(pid: str, t: float, prediction: Any, label: Any, model: str = "churn", **kw: Any) -> OutcomeEvent:
    return OutcomeEvent(
        model_id=model,
        prediction_id=pid,
        prediction=prediction,
        label=label,
        predicted_at=at(t),
        labelled_at=at(t + 3600),
        occurred_at=at(t + 3600),
        **kw,
    )


def windows(**kw: Any) -> MetricsWindows:
    params: dict[str, Any] = {"window_s": 60, "allowed_lateness_s": 120, "registry": REGISTRY}
    return MetricsWindows(**{**params, **kw})


def feed_churn(w: MetricsWindows) -> None:
    for i, ms in enumerate([100, 200, 300, 400], start=1):
        assert w.add_prediction(pred(f"p{i}", i, ms))
    assert w.add_prediction(pred("p5", 5, 1000, error="boom", prediction=None))


def test_window_closes_at_its_end_with_traffic_metrics() -> None:
    w = windows()
    feed_churn(w)
    assert w.close_due(at(59.999)) == []
    [ev] = w.close_due(at(60))
    assert (ev.model_id, ev.revision, ev.task) == ("churn", 0, "classification")
    assert (ev.window_start, ev.window_end, ev.occurred_at) == (T0, at(60), at(60))
    assert ev.event_id == metrics_event_id("churn", T0, 0)
    assert ev.values == {
        mn.COUNT: 5.0,
        mn.ERROR_COUNT: 1.0,
        mn.LABELLED_COUNT: 0.0,
        mn.ERROR_RATE: 0.2,
        mn.LABEL_COVERAGE: 0.0,
        mn.THROUGHPUT_PER_S: 5 / 60,
        mn.LATENCY_P50_S: pytest.approx(0.3),
        mn.LATENCY_P95_S: pytest.approx(0.88),
        mn.LATENCY_P99_S: pytest.approx(0.976),
        mn.LATENCY_MEAN_S: pytest.approx(0.4),
    }
    assert w.close_due(at(61)) == []  # nothing changed: nothing re-emitted


def test_late_outcomes_reemit_with_next_revision_then_window_expires() -> None:
    w = windows()
    feed_churn(w)
    w.close_due(at(60))
    for pid, t, p, y in [("p1", 1, 1, 1), ("p2", 2, 0, 0), ("p3", 3, 0, 1), ("p4", 4, 1, 1)]:
        assert w.add_outcome(outcome(pid, t, p, y, correct=p == y))
    [ev] = w.close_due(at(120))
    assert ev.revision == 1
    assert ev.event_id == metrics_event_id("churn", T0, 1)
    v = ev.values
    assert (v[mn.LABELLED_COUNT], v[mn.LABEL_COVERAGE]) == (4.0, 0.8)
    assert (v[mn.ACCURACY], v[mn.PRECISION]) == (0.75, 1.0)
    assert v[mn.RECALL] == pytest.approx(2 / 3)
    assert v[mn.F1] == pytest.approx(0.8)
    # TP=2 FN=1 -> 2*10 - 1*5 = 15, no baseline
    assert (v[mn.MODEL_VALUE], v[mn.BASELINE_VALUE], v[mn.COST_SAVINGS]) == (15.0, 0.0, 15.0)
    assert mn.EFFICIENCY_GAIN not in v
    assert w.close_due(at(179)) == []
    assert w.open_windows() == 1
    assert w.close_due(at(180)) == []  # end + lateness reached: evicted
    assert w.open_windows() == 0
    assert not w.add_outcome(outcome("p5", 5, None, 1))
    assert not w.add_prediction(pred("p6", 59))
    assert w.dropped_late == 2


def test_dirty_window_is_emitted_once_more_when_it_expires() -> None:
    w = windows()
    w.add_prediction(pred("a", 0))
    w.close_due(at(60))
    w.add_prediction(pred("b", 30))  # late, but within lateness
    [ev] = w.close_due(at(500))
    assert (ev.revision, ev.values[mn.COUNT]) == (1, 2.0)
    assert w.open_windows() == 0


def test_several_models_and_windows_in_one_close() -> None:
    w = windows()
    w.add_prediction(pred("a", 61))
    w.add_prediction(pred("b", 1))
    w.add_prediction(pred("c", 10, model="eta"))
    w.add_prediction(pred("d", 130))
    events = w.close_due(at(125))
    assert [(e.model_id, e.window_start, e.values[mn.COUNT]) for e in events] == [
        ("churn", T0, 1.0),
        ("churn", at(60), 1.0),
        ("eta", T0, 1.0),
    ]
    assert events[2].task == "regression"
    assert w.open_windows() == 4  # nothing expires before end + lateness = 180 s


def test_regression_window() -> None:
    w = windows()
    for i, (p, y) in enumerate([(2.5, 3), (0.0, -0.5), (2, 2), (8, 7)]):
        w.add_prediction(pred(f"r{i}", i, model="eta"))
        w.add_outcome(outcome(f"r{i}", i, p, y, model="eta", abs_error=abs(p - y)))
        w.add_outcome(outcome(f"c{i}", i, p, y, correct=p == y, abs_error=abs(p - y)))  # churn: classification
    [eta, churn] = w.close_due(at(60))  # models in order of first event
    assert eta.values[mn.MAE] == 0.5
    assert eta.values[mn.RMSE] == math.sqrt(0.375)
    assert mn.ACCURACY not in eta.values
    assert churn.values[mn.ACCURACY] == 0.25  # only (2, 2) is right
    assert mn.MAE not in churn.values


def test_unregistered_model_gets_task_unknown_and_both_metric_kinds() -> None:
    w = windows()
    w.add_outcome(outcome("x", 1, 3, 5, model="other", correct=False, abs_error=2.0))
    w.add_outcome(outcome("y", 2, 4, 4, model="other", correct=True, abs_error=0.0))
    w.add_outcome(outcome("z", 3, None, 4, model="other"))  # failed prediction: labelled only
    [ev] = w.close_due(at(60))
    assert ev.task == "unknown"
    assert ev.values[mn.LABELLED_COUNT] == 3.0
    assert ev.values[mn.COUNT] == 0.0
    assert mn.LABEL_COVERAGE not in ev.values
    assert (ev.values[mn.MAE], ev.values[mn.ACCURACY]) == (1.0, 0.5)
    assert mn.COST_SAVINGS not in ev.values


def test_max_windows_per_model_evicts_oldest_and_emits_it() -> None:
    w = windows(max_windows_per_model=2)
    w.add_prediction(pred("a", 0))
    w.add_prediction(pred("b", 60))
    w.add_prediction(pred("c", 120))
    assert w.evicted_early == 1
    assert w.open_windows() == 2
    assert not w.add_prediction(pred("d", 30))  # would resurrect the evicted window
    assert w.dropped_late == 1
    [ev] = w.close_due(at(60))
    assert (ev.window_start, ev.revision, ev.values[mn.COUNT]) == (T0, 0, 1.0)


def test_latency_reservoir_is_bounded() -> None:
    w = windows(latency_sample_cap=10)
    for i in range(100):
        w.add_prediction(pred(f"p{i}", 0, latency_ms=i))
    state = w.to_state()
    [win] = state["windows"]
    assert len(win["latencies"]) == 10
    assert win["latency_seen"] == 100
    assert set(win["latencies"]) <= {i / 1000 for i in range(100)}


def test_watermark_never_moves_back() -> None:
    w = windows()
    assert w.watermark is None
    w.close_due(at(600))
    w.close_due(at(0))
    assert w.watermark == at(600)
    assert not w.add_prediction(pred("a", 0))


def test_replay_gives_identical_events() -> None:
    def run() -> list[MetricsEvent]:
        w = windows()
        feed_churn(w)
        out = w.close_due(at(60))
        w.add_outcome(outcome("p1", 1, 1, 1, correct=True))
        return out + w.close_due(at(200))

    assert run() == run()


def test_state_roundtrip_continues_identically() -> None:
    a = windows(max_windows_per_model=2)
    feed_churn(a)
    a.add_prediction(pred("b", 60))
    a.add_prediction(pred("c", 120))  # evicts [0,60) early: a pending emission
    a.close_due(at(59))
    a.add_outcome(outcome("p1", 61, 1, 0, correct=False))
    state = json.loads(json.dumps(a.to_state()))
    b = MetricsWindows.from_state(state, window_s=60, allowed_lateness_s=120, registry=REGISTRY)
    assert b.to_state() == state
    assert (b.evicted_early, b.watermark) == (1, at(59))
    assert not b.add_prediction(pred("late", 1))
    assert not a.add_prediction(pred("late", 1))
    assert a.close_due(at(200)) == b.close_due(at(200))


def test_from_state_rejects_bad_state() -> None:
    good = windows().to_state()
    with pytest.raises(ValidationError, match="dropped_late\n  Field required"):
        MetricsWindows.from_state({k: v for k, v in good.items() if k != "dropped_late"})
    with pytest.raises(ValueError, match="version: unsupported windows state version 2"):
        MetricsWindows.from_state({**good, "version": 2})
    bad_window = {"model_id": "m", "start": 0.0, "count": -1}
    with pytest.raises(ValidationError, match=r"windows\.0\.count\n  Input should be greater than or equal"):
        MetricsWindows.from_state({**good, "windows": [bad_window]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_s": 0}, "window_s must be > 0, got 0"),
        ({"window_s": math.inf}, "window_s must be > 0, got inf"),
        ({"allowed_lateness_s": -1}, "allowed_lateness_s must be >= 0, got -1"),
        ({"max_windows_per_model": 0}, "max_windows_per_model must be >= 1, got 0"),
        ({"latency_sample_cap": 0}, "latency_sample_cap must be >= 1, got 0"),
    ],
)
def test_constructor_rejects_bad_parameters(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetricsWindows(**kwargs)
