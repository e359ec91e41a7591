from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mlmon_collector.scenario import DEFAULT_SCENARIO, Scenario, default_scenario, load_scenario
from mlmon_collector.simulate import SimEvent, main, parse_args, simulate, wall_delay
from mlmon_common.events import LabelEvent, PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def model(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model_id": "m",
        "task": "classification",
        "rate_per_s": 10,
        "features": [{"name": "x", "mean": 1, "std": 0}],
        "coefficients": {"x": 1},
        "noise_std": 0,
        "latency_sigma": 0,
        "latency_ms_median": 40,
        "error_rate": 0,
        "label_missing_rate": 0,
    }
    return {**base, **kw}


Events = list[tuple[datetime, SimEvent]]


def run(models: list[dict[str, Any]], incidents: list[dict[str, Any]] | None = None, **kw: Any) -> Events:
    spec = {"seed": 7, "start": T0, "duration_s": 10, "models": models, "incidents": incidents or [], **kw}
    return list(simulate(Scenario.model_validate(spec)))


def preds(events: list[tuple[datetime, SimEvent]]) -> list[PredictionEvent]:
    return [e for _, e in events if isinstance(e, PredictionEvent)]


def labels(events: list[tuple[datetime, SimEvent]]) -> list[LabelEvent]:
    return [e for _, e in events if isinstance(e, LabelEvent)]


def test_deterministic_given_seed_and_ordered_by_due_time() -> None:
    s = default_scenario(start=T0, duration_s=20)
    a, b = list(simulate(s)), list(simulate(s))
    assert a == b
    assert [d for d, _ in a] == sorted(d for d, _ in a)
    assert all(d == e.occurred_at for d, e in a)
    other = list(simulate(default_scenario(start=T0, duration_s=20, seed=43)))
    assert [e.event_id for _, e in other][:10] != [e.event_id for _, e in a][:10]
    assert len({e.event_id for _, e in a}) == len(a)


def test_predictions_stop_at_duration_and_ids_are_unique() -> None:
    events = run([model()])
    ps = preds(events)
    assert 50 < len(ps) < 150  # Poisson(100)
    assert all(p.occurred_at < T0 + timedelta(seconds=10) for p in ps)
    assert [p.prediction_id for p in ps] == [f"m-s7-{i:08d}" for i in range(len(ps))]
    assert run([model()], run_id="r2")[0][1].prediction_id == "m-r2-00000000"


def test_every_prediction_gets_exactly_one_label_when_none_missing() -> None:
    events = run([model()])
    ps, ls = preds(events), labels(events)
    assert sorted(lb.prediction_id for lb in ls) == [p.prediction_id for p in ps]
    by_id = {p.prediction_id: p for p in ps}
    assert all(lb.occurred_at >= by_id[lb.prediction_id].occurred_at for lb in ls)
    assert all((p.prediction, p.score) == (1, round(1 / (1 + math.exp(-1)), 4)) for p in ps)
    assert all(lb.label == 1 for lb in ls)
    assert all(p.latency_ms == 40.0 for p in ps)
    assert all(p.features == {"x": 1.0} for p in ps)


@pytest.mark.parametrize(
    ("overrides", "per_prediction"),
    [({"label_missing_rate": 1}, 0), ({"label_duplicate_rate": 1}, 2), ({"label_delay_s_mean": 0}, 1)],
)
def test_label_behaviour(overrides: dict[str, float], per_prediction: int) -> None:
    events = run([model(**overrides)])
    assert len(labels(events)) == per_prediction * len(preds(events))


def test_early_labels_arrive_before_their_prediction() -> None:
    events = run([model(label_early_rate=1)])
    pos = {e.event_id: i for i, (_, e) in enumerate(events)}
    by_id = {p.prediction_id: p for p in preds(events)}
    ls = labels(events)
    assert ls
    assert all(pos[lb.event_id] < pos[by_id[lb.prediction_id].event_id] for lb in ls)
    assert all(lb.occurred_at <= by_id[lb.prediction_id].occurred_at for lb in ls)


def test_index_incidents_mean_shift_variance_and_latency() -> None:
    feats = [{"name": "x", "mean": 10, "std": 0}, {"name": "y", "mean": 5, "std": 1}]
    incidents = [
        {"kind": "mean_shift", "model_id": "m", "start_index": 2, "end_index": 4, "feature": "x", "shift": 5},
        {"kind": "variance_change", "model_id": "m", "start_index": 0, "end_index": 3, "feature": "y", "factor": 0},
        {"kind": "latency_spike", "model_id": "m", "start_index": 1, "end_index": 2, "factor": 10},
    ]
    ps = preds(run([model(features=feats, coefficients={"x": 1})], incidents))
    assert [p.features["x"] for p in ps[:6]] == [10.0, 10.0, 15.0, 15.0, 10.0, 10.0]
    assert [p.features["y"] for p in ps[:3]] == [5.0, 5.0, 5.0]
    assert ps[3].features["y"] != 5.0
    assert [p.latency_ms for p in ps[:3]] == [40.0, 400.0, 40.0]


def test_category_shift_and_error_burst_by_time() -> None:
    feats = [
        {"name": "x", "mean": 1, "std": 0},
        {"kind": "categorical", "name": "c", "categories": ["a", "b"], "weights": [1, 0]},
    ]
    incidents = [
        {"kind": "category_shift", "model_id": "m", "start_s": 5, "feature": "c", "weights": [0, 1]},
        {"kind": "error_burst", "model_id": "m", "start_s": 2, "end_s": 4, "error_rate": 1},
    ]
    for p in preds(run([model(features=feats)], incidents)):
        t = (p.occurred_at - T0).total_seconds()
        assert p.features["c"] == ("b" if t >= 5 else "a")
        failed = 2 <= t < 4
        assert (p.error is not None, p.prediction is None, p.score is None) == (failed, failed, failed)


def test_concept_drift_changes_labels_not_predictions() -> None:
    incidents = [{"kind": "concept_drift", "model_id": "m", "start_index": 3, "end_index": 5}]
    events = run([model(label_delay_s_mean=0)], incidents)
    by_id = {lb.prediction_id: lb.label for lb in labels(events)}
    ps = preds(events)
    assert [p.prediction for p in ps[:6]] == [1] * 6
    assert [by_id[p.prediction_id] for p in ps[:6]] == [1, 1, 1, 0, 0, 1]
    explicit = [{"kind": "concept_drift", "model_id": "m", "start_index": 0, "coefficients": {"x": 3}}]
    assert {lb.label for lb in labels(run([model()], explicit))} == {1}


def test_regression_seasonality_and_clipping() -> None:
    feats = [{"name": "x", "mean": 10, "std": 0, "seasonality_amplitude": 2, "seasonality_period_s": 4, "max": 11.5}]
    events = run([model(task="regression", features=feats, coefficients={"x": 2}, intercept=1)])
    by_id = {lb.prediction_id: lb.label for lb in labels(events)}
    for p in preds(events):
        t = (p.occurred_at - T0).total_seconds()
        x = round(min(10 + 2 * math.sin(2 * math.pi * t / 4), 11.5), 3)
        assert p.features["x"] == x
        assert p.prediction == round(1 + 2 * x, 3)
        assert by_id[p.prediction_id] == p.prediction  # no noise


def test_default_fleet_shape_and_registry_entries() -> None:
    s = default_scenario()
    assert [(m.model_id, m.task) for m in s.models] == [
        ("churn", "classification"),
        ("fraud", "classification"),
        ("eta", "regression"),
    ]
    entry = s.models[0].registry_entry()
    assert (entry.model_id, entry.task, entry.positive_label) == ("churn", "classification", 1)
    assert [f.type for f in entry.features] == ["number", "number", "number", "category"]
    assert entry.feature("plan").categories == ["basic", "pro", "enterprise"]  # type: ignore[union-attr]
    assert s.models[2].registry_entry().positive_label is None


def test_load_scenario_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("seed: 3\nmodels:\n  - model_id: a\n    task: regression\n    features: [{name: x}]\n")
    s = load_scenario(path)
    assert (s.seed, s.models[0].features[0].kind) == (3, "numeric")
    assert load_scenario(dict(DEFAULT_SCENARIO)) == default_scenario()
    path.write_text("- 1\n")
    with pytest.raises(ValueError, match="a scenario must be a YAML mapping, got list"):
        load_scenario(path)


M = model()


def inc(kind: str, **kw: Any) -> dict[str, Any]:
    return {"kind": kind, "model_id": "m", **kw}


def cat_model(weights: list[float]) -> dict[str, Any]:
    feats = [{"kind": "categorical", "name": "c", "categories": ["a"], "weights": weights}]
    return model(features=feats, coefficients={})


@pytest.mark.parametrize(
    ("models", "incidents", "message"),
    [
        ([M, M], [], "models: duplicate model_id"),
        ([M], [inc("latency_spike", model_id="zz", start_s=1)], "incidents.0: unknown model_id 'zz'"),
        ([M], [inc("mean_shift", start_s=1)], "mean_shift incident on 'm': feature is required"),
        ([M], [inc("mean_shift", start_s=1, feature="q")], "needs a numeric feature of 'm', got 'q'"),
        ([M], [inc("error_burst")], "set exactly one of start_s, start_index"),
        ([M], [inc("error_burst", start_s=1, start_index=1)], "set exactly one of"),
        ([M], [inc("error_burst", start_s=1, end_index=3)], "end must use the same unit"),
        ([M], [inc("category_shift", start_s=1, feature="x")], "weights are required"),
        ([M], [inc("category_shift", start_s=1, feature="x", weights=[1])], "needs a categorical feature"),
        ([model(coefficients={"z": 1})], [], r"model 'm': coefficients for unknown features \['z'\]"),
        ([model(features=[{"name": "x"}, {"name": "x"}])], [], "model 'm': duplicate feature names"),
        ([cat_model([1, 2])], [], "feature 'c': 2 weights for 1 categories"),
        ([cat_model([0])], [], "weights must be >= 0 with a positive sum"),
        ([model(rate_per_s=0)], [], "rate_per_s\n  Input should be greater than 0"),
        ([model(label_missing_rate=2)], [], "label_missing_rate\n  Input should be less than or equal to 1"),
        ([model(features=[{"kind": "text", "name": "t"}])], [], "does not match any of the expected tags"),
    ],
)
def test_scenario_validation(models: list[dict[str, Any]], incidents: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Scenario.model_validate({"models": models, "incidents": incidents})


def test_category_shift_weights_checked_against_feature() -> None:
    feats = [{"kind": "categorical", "name": "c", "categories": ["a", "b"]}]
    inc = {"kind": "category_shift", "model_id": "m", "start_s": 0, "feature": "c", "weights": [1]}
    with pytest.raises(ValidationError, match="feature 'c': 1 weights for 2 categories"):
        Scenario.model_validate({"models": [model(features=feats, coefficients={})], "incidents": [inc]})


def test_wall_delay() -> None:
    assert wall_delay(T0 + timedelta(seconds=10), T0, wall_elapsed_s=4, speed=1) == 6.0
    assert wall_delay(T0 + timedelta(seconds=10), T0, wall_elapsed_s=4, speed=2) == 1.0
    assert wall_delay(T0 + timedelta(seconds=10), T0, wall_elapsed_s=40, speed=1) == 0.0
    assert wall_delay(T0 + timedelta(seconds=10), T0, wall_elapsed_s=0, speed=0) == 0.0


def test_parse_args_defaults_and_overrides(tmp_path: Path) -> None:
    opts = parse_args([])
    assert (opts.scenario, opts.speed, opts.limit) == (default_scenario(), 1.0, None)
    opts = parse_args(["--seed", "5", "--duration", "30", "--run-id", "x1", "--speed", "0", "--limit", "9"])
    assert (opts.scenario.seed, opts.scenario.duration_s, opts.scenario.run_id) == (5, 30.0, "x1")
    assert (opts.speed, opts.limit) == (0.0, 9)
    path = tmp_path / "s.yaml"
    path.write_text("models:\n  - {model_id: a, task: regression, features: [{name: x}]}\n")
    assert parse_args(["--scenario", str(path)]).scenario.models[0].model_id == "a"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--speed", "-1"], "must be a finite number >= 0, got '-1'"),
        (["--limit", "0"], "--limit must be >= 1, got 0"),
        (["--scenario", "/no/such.yaml"], "--scenario: .*No such file"),
        (["--run-id", "bad id"], "--scenario: .*run_id"),
    ],
)
def test_parse_args_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert re_search(message, capsys.readouterr().err)


def re_search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.DOTALL) is not None


def test_main_feeds_the_sink_up_to_the_limit() -> None:
    got: list[tuple[datetime, SimEvent]] = []
    assert main(["--limit", "25", "--seed", "1"], sink=lambda due, ev: got.append((due, ev))) == 0
    assert len(got) == 25
    assert main(["--duration", "1"]) == 0
