from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mlmon_collector.config import CollectorConfig
from mlmon_collector.registry import FeatureSpec, ModelEntry, ModelRegistry, check_features
from mlmon_common.events import DataQuality, PredictionEvent

ENTRY = ModelEntry(
    model_id="churn",
    task="classification",
    positive_label=1,
    features=[
        FeatureSpec(name="age", type="integer", min=18, max=100),
        FeatureSpec(name="income", type="number", min=0),
        FeatureSpec(name="plan", type="category", categories=["basic", "pro"]),
        FeatureSpec(name="active", type="boolean"),
        FeatureSpec(name="city", type="string", nullable=True),
    ],
)
REGISTRY = ModelRegistry([ENTRY])


def _pred(features: dict[str, Any], model_id: str = "churn") -> PredictionEvent:
    return PredictionEvent(model_id=model_id, prediction_id="p1", features=features, prediction=1)


GOOD: dict[str, Any] = {"age": 40, "income": 1234.5, "plan": "pro", "active": True, "city": "Oslo"}


def test_clean_prediction_has_no_violations() -> None:
    q = REGISTRY.check(_pred(GOOD))
    assert q == DataQuality()
    assert q.violations == 0


def test_every_kind_of_violation_is_listed() -> None:
    features: dict[str, Any] = {
        "age": 17,  # out of range (below min)
        "income": "lots",  # type mismatch
        "plan": "gold",  # category not allowed
        "active": None,  # null, not nullable -> also a type mismatch
        "city": None,  # null, nullable
        "zip": "0150",  # unknown
        "extra": 1,  # unknown
    }
    q = check_features(ENTRY, features)
    assert q.unknown_features == ["extra", "zip"]
    assert q.missing_features == []
    assert q.out_of_range == ["age", "plan"]
    assert q.type_mismatch == ["active", "income"]
    assert q.null_features == ["active", "city"]
    assert q.violations == 6


def test_missing_features_and_edges_of_ranges() -> None:
    q = check_features(ENTRY, {"age": 100, "income": 0})
    assert q.missing_features == ["active", "city", "plan"]
    assert q.out_of_range == []
    assert check_features(ENTRY, {**GOOD, "age": 100.5}).type_mismatch == ["age"]
    assert check_features(ENTRY, {**GOOD, "age": 40.0}).type_mismatch == []
    assert check_features(ENTRY, {**GOOD, "age": 101.0}).out_of_range == ["age"]


@pytest.mark.parametrize(
    ("feature", "value"),
    [("age", True), ("income", False), ("active", 1), ("city", 3), ("plan", 1.5)],
)
def test_type_mismatches(feature: str, value: Any) -> None:
    assert check_features(ENTRY, {**GOOD, feature: value}).type_mismatch == [feature]


def test_integer_category_values_are_compared_as_text() -> None:
    entry = ModelEntry(
        model_id="m", task="classification", features=[FeatureSpec(name="c", type="category", categories=["1"])]
    )
    assert check_features(entry, {"c": 1}) == DataQuality()
    assert check_features(entry, {"c": 2}).out_of_range == ["c"]


def test_enrich_keeps_event_and_sets_quality() -> None:
    ev = _pred({**GOOD, "age": 5})
    out = REGISTRY.enrich(ev)
    assert out.event_id == ev.event_id
    assert out.features == ev.features
    assert out.data_quality == DataQuality(out_of_range=["age"])
    assert ev.data_quality is None  # the input is untouched


def test_unregistered_model_is_never_dropped() -> None:
    out = REGISTRY.enrich(_pred({"x": 1}, model_id="other"))
    assert out.data_quality == DataQuality(unregistered_model=True)
    assert out.data_quality.violations == 0
    assert "other" not in REGISTRY
    assert "churn" in REGISTRY
    assert len(REGISTRY) == 1
    assert REGISTRY.get("churn") is ENTRY
    assert ENTRY.feature("nope") is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "a", "type": "string", "min": 1}, "feature 'a': min/max only apply to number/integer"),
        ({"name": "a", "type": "number", "min": 2, "max": 1}, r"feature 'a': min \(2.0\) > max \(1.0\)"),
        ({"name": "a", "type": "category"}, "feature 'a': categories are required for, and only for"),
        ({"name": "a", "type": "string", "categories": ["x"]}, "categories are required for, and only for"),
        ({"name": "a", "type": "category", "categories": []}, "feature 'a': categories must not be empty"),
        ({"name": "a", "type": "float"}, "type\n  Input should be 'number', 'integer', 'boolean'"),
        ({"name": "", "type": "number"}, "name\n  String should have at least 1 character"),
        ({"name": "a", "type": "number", "maxx": 1}, "maxx\n  Extra inputs are not permitted"),
    ],
)
def test_feature_spec_validation(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeatureSpec.model_validate(spec)


def test_model_entry_validation() -> None:
    a = {"name": "a", "type": "number"}
    with pytest.raises(ValidationError, match=r"model 'm': duplicate feature names \['a'\]"):
        ModelEntry.model_validate({"model_id": "m", "task": "regression", "features": [a, a]})
    with pytest.raises(ValidationError, match="model 'm': positive_label only applies to classification"):
        ModelEntry.model_validate({"model_id": "m", "task": "regression", "positive_label": 1})
    with pytest.raises(ValidationError, match="task\n  Input should be 'classification' or 'regression'"):
        ModelEntry.model_validate({"model_id": "m", "task": "ranking"})
    with pytest.raises(ValidationError, match="model_id\n  String should match pattern"):
        ModelEntry.model_validate({"model_id": "has space", "task": "regression"})


def test_registry_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="models: model_id 'churn' is registered twice"):
        ModelRegistry([ENTRY, ENTRY])


def test_config_defaults_and_registry() -> None:
    cfg = CollectorConfig()
    assert cfg.window_s == 60.0
    assert cfg.allowed_lateness_s == 3600.0
    assert cfg.join_ttl_s == 7 * 24 * 3600
    assert cfg.join_max_pending == 1_000_000
    assert len(cfg.registry()) == 0
    cfg = CollectorConfig.model_validate({"models": [ENTRY.model_dump()]})
    assert cfg.registry().get("churn") == ENTRY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"window_s": 0}, "window_s\n  Input should be greater than 0"),
        ({"allowed_lateness_s": -1}, "allowed_lateness_s\n  Input should be greater than or equal to 0"),
        ({"latency_sample_cap": 5}, "latency_sample_cap\n  Input should be greater than or equal to 10"),
        ({"windw_s": 10}, "windw_s\n  Extra inputs are not permitted"),
        (
            {"models": [{"model_id": "m", "task": "regression"}] * 2},
            r"models: duplicate model_id \['m'\]",
        ),
    ],
)
def test_config_validation(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CollectorConfig.model_validate(data)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"age": 18.0},  # integral float: clean for the full check, not for the fast one
        {"age": True},
        {"age": 101},
        {"income": -1},
        {"income": 7},
        {"plan": "gold"},
        {"plan": 1},
        {"active": 1},
        {"city": None},
        {"city": 3},
        {"zip": "1"},
    ],
)
def test_fast_clean_test_never_disagrees_with_the_full_check(change: dict[str, Any]) -> None:
    features = GOOD | change
    slow_clean = check_features(ENTRY.model_copy(update={}), features) == DataQuality()
    assert not ENTRY.all_clean(features) or slow_clean
    missing = {k: v for k, v in features.items() if k != "plan"}
    assert not ENTRY.all_clean(missing)
    assert ENTRY.all_clean(GOOD)
