import pytest
from pydantic import ValidationError

from mlmon_reporting.config import ReportingConfig, Thresholds
from mlmon_reporting.thresholds import rules_for


def test_defaults_are_the_seed_thresholds() -> None:
    t = ReportingConfig().thresholds
    assert (t.accuracy_min, t.latency_max, t.error_rate_max) == (0.95, 0.2, 0.05)
    assert (t.cpu_max, t.memory_max, t.disk_max) == (80.0, 85.0, 90.0)
    assert (t.data_drift_max, t.model_drift_max) == (0.1, 0.15)
    r = ReportingConfig().retention
    assert (r.raw_step_s, r.raw_retention_h, r.rollup_step_s, r.rollup_retention_d) == (60, 48, 3600, 90)


def test_per_model_override_replaces_only_given_fields() -> None:
    cfg = ReportingConfig.model_validate({"overrides": {"fraud": {"latency_max": 0.5, "cpu_max": 95}}})
    fraud = cfg.thresholds_for("fraud")
    assert (fraud.latency_max, fraud.cpu_max, fraud.accuracy_min) == (0.5, 95.0, 0.95)
    assert cfg.thresholds_for("churn") is cfg.thresholds


def test_unknown_field_is_rejected_with_its_name() -> None:
    with pytest.raises(ValidationError, match=r"thresholds\.acuracy_min\n  Extra inputs are not permitted"):
        ReportingConfig.model_validate({"thresholds": {"acuracy_min": 0.9}})


def test_out_of_range_threshold_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"overrides\.m\.accuracy_min\n  Input should be less than or equal"):
        ReportingConfig.model_validate({"overrides": {"m": {"accuracy_min": 1.5}}})
    with pytest.raises(ValidationError, match=r"thresholds\.cpu_max\n  Input should be less than or equal to 100"):
        ReportingConfig.model_validate({"thresholds": {"cpu_max": 120}})


def test_bad_duration_fields_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"trend_window: invalid duration '7 days'"):
        ReportingConfig.model_validate({"trend_window": "7 days"})
    with pytest.raises(ValidationError, match=r"forecast_horizon: duration must be positive"):
        ReportingConfig.model_validate({"forecast_horizon": "0d"})


def test_rules_directions_and_breaches() -> None:
    rules = rules_for(Thresholds())
    assert rules["accuracy"].breached(0.949)
    assert not rules["accuracy"].breached(0.95)
    assert rules["latency_p95_s"].breached(0.21)
    assert not rules["latency_p95_s"].breached(0.2)
    assert rules["resource.memory_percent"].value == 85.0
    assert rules["data_drift"].describe() == "data_drift > 0.1"
    assert sorted(r.name for r in rules.values() if r.direction == "min") == ["accuracy_min"]
