"""Business impact of a model from a per-model value model.

The value model says what each outcome is worth (gain per true positive and true negative, cost per
false positive, false negative and unit of absolute error) and what the business gets without the
model (``baseline_value_per_prediction``, ``baseline_quality``). From outcome counts:

* ``model_value``   = tp·gain_tp + tn·gain_tn - fp·cost_fp - fn·cost_fn - Σ|error|·cost_per_abs_error
* ``baseline_value`` = n · baseline_value_per_prediction
* ``cost_savings``  = model_value - baseline_value
* ``efficiency_gain`` = cost_savings / |baseline_value| (left out when the baseline is 0)
* ``quality_improvement`` = quality - baseline_quality, quality being accuracy (classification) or
  -MAE (regression, so a lower error is an improvement); left out without a ``baseline_quality``.

Without a positive label (multiclass) a correct outcome counts as a true positive and a wrong one as
a false positive.

>>> vm = ValueModel(gain_per_tp=10, cost_per_fp=2, cost_per_fn=5, baseline_value_per_prediction=1)
>>> impact = BusinessMetrics.calculate_impact(vm, OutcomeCounts(tp=3, fp=1, fn=1, tn=5))
>>> impact.cost_savings, impact.efficiency_gain
(13.0, 1.3)
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from mlmon_collector.metrics import Confusion, Scalar, canonical_label
from mlmon_common import metric_names as mn


class ValueModel(BaseModel):
    """What outcomes of one model are worth (same currency unit throughout)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    gain_per_tp: float = Field(default=0.0, ge=0)
    gain_per_tn: float = Field(default=0.0, ge=0)
    cost_per_fp: float = Field(default=0.0, ge=0)
    cost_per_fn: float = Field(default=0.0, ge=0)
    cost_per_abs_error: float = Field(default=0.0, ge=0, description="Regression: cost per unit of |error|.")
    baseline_value_per_prediction: float = Field(
        default=0.0, description="Value of one decision made without the model (may be negative)."
    )
    baseline_quality: float | None = Field(
        default=None, description="Accuracy (classification) or MAE (regression) without the model."
    )


@dataclass(frozen=True)
class OutcomeCounts:
    """Labelled outcomes of one window: confusion counts and regression error sum."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    regression_n: int = 0
    abs_error_sum: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tp", "fp", "fn", "tn", "regression_n", "abs_error_sum"):
            if getattr(self, name) < 0:
                raise ValueError(f"OutcomeCounts.{name} must be >= 0, got {getattr(self, name)}")

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn + self.regression_n


@dataclass(frozen=True)
class BusinessImpact:
    model_value: float
    baseline_value: float
    cost_savings: float
    efficiency_gain: float | None
    quality_improvement: float | None

    def as_values(self) -> dict[str, float]:
        """The metrics-event entries (``None`` fields left out)."""
        out = {
            mn.MODEL_VALUE: self.model_value,
            mn.BASELINE_VALUE: self.baseline_value,
            mn.COST_SAVINGS: self.cost_savings,
        }
        if self.efficiency_gain is not None:
            out[mn.EFFICIENCY_GAIN] = self.efficiency_gain
        if self.quality_improvement is not None:
            out[mn.QUALITY_IMPROVEMENT] = self.quality_improvement
        return out


def counts_from_confusion(confusion: Confusion, positive_label: Scalar | None) -> OutcomeCounts:
    """Confusion matrix (canonical labels) -> tp/fp/fn/tn for ``positive_label``.

    Without a positive label: correct -> tp, wrong -> fp.

    >>> counts_from_confusion({("1", "1"): 2, ("1", "0"): 1, ("0", "1"): 3, ("0", "0"): 4}, 1)
    OutcomeCounts(tp=2, fp=3, fn=1, tn=4, regression_n=0, abs_error_sum=0.0)
    """
    tp = fp = fn = tn = 0
    pos = None if positive_label is None else canonical_label(positive_label)
    for (true, pred), n in confusion.items():
        if pos is None:
            tp, fp = (tp + n, fp) if true == pred else (tp, fp + n)
        elif pred == pos:
            tp, fp = (tp + n, fp) if true == pos else (tp, fp + n)
        else:
            fn, tn = (fn + n, tn) if true == pos else (fn, tn + n)
    return OutcomeCounts(tp=tp, fp=fp, fn=fn, tn=tn)


def _quality_improvement(vm: ValueModel, c: OutcomeCounts) -> float | None:
    if vm.baseline_quality is None:
        return None
    if c.regression_n:
        return vm.baseline_quality - c.abs_error_sum / c.regression_n
    classified = c.tp + c.fp + c.fn + c.tn
    if not classified:
        return None
    return (c.tp + c.tn) / classified - vm.baseline_quality


class BusinessMetrics:
    """The seed's ``BusinessMetrics`` API."""

    @staticmethod
    def calculate_impact(value_model: ValueModel, counts: OutcomeCounts) -> BusinessImpact:
        vm, c = value_model, counts
        value = (
            c.tp * vm.gain_per_tp
            + c.tn * vm.gain_per_tn
            - c.fp * vm.cost_per_fp
            - c.fn * vm.cost_per_fn
            - c.abs_error_sum * vm.cost_per_abs_error
        )
        baseline = c.n * vm.baseline_value_per_prediction
        savings = value - baseline
        return BusinessImpact(
            model_value=float(value),
            baseline_value=float(baseline),
            cost_savings=float(savings),
            efficiency_gain=savings / abs(baseline) if baseline else None,
            quality_improvement=_quality_improvement(vm, c),
        )
