from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlmon_collector.business import (
    BusinessImpact,
    BusinessMetrics,
    OutcomeCounts,
    ValueModel,
    counts_from_confusion,
)
from mlmon_common import metric_names as mn


def test_classification_impact_hand_computed() -> None:
    vm = ValueModel(
        gain_per_tp=10,
        gain_per_tn=0.5,
        cost_per_fp=2,
        cost_per_fn=5,
        baseline_value_per_prediction=1,
        baseline_quality=0.6,
    )
    impact = BusinessMetrics.calculate_impact(vm, OutcomeCounts(tp=3, fp=1, fn=1, tn=5))
    # 3*10 + 5*0.5 - 1*2 - 1*5 = 25.5 ; baseline 10*1 = 10
    assert impact == BusinessImpact(
        model_value=25.5,
        baseline_value=10.0,
        cost_savings=15.5,
        efficiency_gain=1.55,
        quality_improvement=pytest.approx(0.8 - 0.6),  # type: ignore[arg-type]
    )
    assert impact.as_values() == {
        mn.MODEL_VALUE: 25.5,
        mn.BASELINE_VALUE: 10.0,
        mn.COST_SAVINGS: 15.5,
        mn.EFFICIENCY_GAIN: 1.55,
        mn.QUALITY_IMPROVEMENT: pytest.approx(0.2),
    }


def test_negative_baseline_uses_its_magnitude() -> None:
    vm = ValueModel(gain_per_tp=1, baseline_value_per_prediction=-2)
    impact = BusinessMetrics.calculate_impact(vm, OutcomeCounts(tp=2))
    assert (impact.model_value, impact.baseline_value, impact.cost_savings) == (2.0, -4.0, 6.0)
    assert impact.efficiency_gain == 1.5


def test_zero_baseline_and_no_quality_leave_keys_out() -> None:
    impact = BusinessMetrics.calculate_impact(ValueModel(cost_per_fp=1), OutcomeCounts(fp=4))
    assert impact.efficiency_gain is None
    assert impact.quality_improvement is None
    assert impact.as_values() == {mn.MODEL_VALUE: -4.0, mn.BASELINE_VALUE: 0.0, mn.COST_SAVINGS: -4.0}


def test_quality_improvement_needs_outcomes() -> None:
    impact = BusinessMetrics.calculate_impact(ValueModel(baseline_quality=0.9), OutcomeCounts())
    assert impact.quality_improvement is None
    assert impact.cost_savings == 0.0


def test_regression_impact() -> None:
    vm = ValueModel(cost_per_abs_error=3, baseline_value_per_prediction=-10, baseline_quality=2.5)
    impact = BusinessMetrics.calculate_impact(vm, OutcomeCounts(regression_n=4, abs_error_sum=6.0))
    # value -18, baseline -40, savings 22, gain 22/40, MAE 1.5 vs baseline 2.5 -> +1.0
    assert impact == BusinessImpact(-18.0, -40.0, 22.0, 0.55, 1.0)


def test_counts_from_confusion_binary_and_multiclass() -> None:
    confusion = {("1", "1"): 2, ("1", "0"): 1, ("0", "1"): 3, ("0", "0"): 4}
    assert counts_from_confusion(confusion, 1) == OutcomeCounts(tp=2, fp=3, fn=1, tn=4)
    assert counts_from_confusion(confusion, True) == OutcomeCounts(tn=10)  # "true" never occurs
    multi = {("a", "a"): 2, ("a", "b"): 1, ("c", "c"): 3}
    assert counts_from_confusion(multi, None) == OutcomeCounts(tp=5, fp=1)


def test_outcome_counts_reject_negative() -> None:
    with pytest.raises(ValueError, match=r"OutcomeCounts\.fn must be >= 0, got -1"):
        OutcomeCounts(fn=-1)
    with pytest.raises(ValueError, match=r"OutcomeCounts\.abs_error_sum must be >= 0"):
        OutcomeCounts(abs_error_sum=-0.5)
    assert OutcomeCounts(tp=1, fp=2, fn=3, tn=4, regression_n=5).n == 15


def test_value_model_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="cost_per_fp"):
        ValueModel(cost_per_fp=-1)
    with pytest.raises(ValidationError, match="gain_per_tpp"):
        ValueModel.model_validate({"gain_per_tpp": 1})
    with pytest.raises(ValidationError, match="gain_per_tp"):
        ValueModel(gain_per_tp=float("nan"))
