"""Model-quality and traffic metrics, as pure functions (no sklearn, no numpy).

Metric names are the constants of :mod:`mlmon_collector.metric_names`. Conventions (documented in
``docs/metrics.md``):

* class labels are compared by their canonical text (:func:`canonical_label`): ``1``, ``1.0`` and
  ``"1"`` are the same class, ``True`` and ``"true"`` too;
* precision/recall/F1 of a class with no predicted/true member is 0 (sklearn's ``zero_division=0``);
  classes are the union of the true and predicted labels;
* with a ``positive_label`` the binary metrics are published as ``precision``/``recall``/``f1``,
  otherwise those keys carry the macro averages;
* percentiles use linear interpolation between closest ranks (numpy's default method).

>>> m = MLMetrics.calculate_metrics("classification", [1, 0, 1, 1], [1, 0, 0, 1], positive_label=1)
>>> m["accuracy"], m["precision"], m["recall"]
(0.75, 1.0, 0.6666666666666666)
>>> percentile([0.1, 0.2, 0.3, 0.4], 0.5)
0.25
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, TypeAlias

from mlmon_common import metric_names as mn

Scalar: TypeAlias = bool | int | float | str
Task = Literal["classification", "regression", "unknown"]
TASKS: tuple[str, ...] = ("classification", "regression", "unknown")
#: (true label, predicted label) -> count, labels in canonical text form.
Confusion: TypeAlias = Mapping[tuple[str, str], int]


def canonical_label(value: Scalar) -> str:
    """The text form classes are compared by.

    >>> [canonical_label(v) for v in (True, 1, 1.0, "1", 2.5)]
    ['true', '1', '1', '1', '2.5']
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value in ("True", "False"):
        return value.lower()
    return str(value)


def confusion_counts(y_true: Iterable[Scalar], y_pred: Iterable[Scalar]) -> Counter[tuple[str, str]]:
    """Count (true, predicted) pairs by canonical label."""
    return Counter((canonical_label(t), canonical_label(p)) for t, p in zip(y_true, y_pred, strict=True))


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def per_class_scores(confusion: Confusion) -> dict[str, tuple[float, float, float, int]]:
    """Class -> (precision, recall, f1, support), classes = union of true and predicted labels."""
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    support: Counter[str] = Counter()
    for (true, pred), n in confusion.items():
        predicted[pred] += n
        support[true] += n
        if true == pred:
            tp[true] += n
    out: dict[str, tuple[float, float, float, int]] = {}
    for cls in sorted(set(predicted) | set(support)):
        p = _ratio(tp[cls], predicted[cls])
        r = _ratio(tp[cls], support[cls])
        out[cls] = (p, r, _ratio(2 * p * r, p + r), support[cls])
    return out


def classification_metrics(confusion: Confusion, positive_label: Scalar | None = None) -> dict[str, float]:
    """Accuracy, binary (with ``positive_label``), macro and weighted precision/recall/F1.

    Returns an empty dict when the confusion matrix is empty.
    """
    total = sum(confusion.values())
    if total == 0:
        return {}
    scores = per_class_scores(confusion)
    correct = sum(n for (t, p), n in confusion.items() if t == p)
    k = len(scores)
    out = {
        mn.ACCURACY: correct / total,
        mn.PRECISION_MACRO: sum(s[0] for s in scores.values()) / k,
        mn.RECALL_MACRO: sum(s[1] for s in scores.values()) / k,
        mn.F1_MACRO: sum(s[2] for s in scores.values()) / k,
        mn.PRECISION_WEIGHTED: sum(s[0] * s[3] for s in scores.values()) / total,
        mn.RECALL_WEIGHTED: sum(s[1] * s[3] for s in scores.values()) / total,
        mn.F1_WEIGHTED: sum(s[2] * s[3] for s in scores.values()) / total,
    }
    if positive_label is None:
        p, r, f = out[mn.PRECISION_MACRO], out[mn.RECALL_MACRO], out[mn.F1_MACRO]
    else:
        p, r, f, _ = scores.get(canonical_label(positive_label), (0.0, 0.0, 0.0, 0))
    out.update({mn.PRECISION: p, mn.RECALL: r, mn.F1: f})
    return out


def regression_metrics(n: int, abs_error_sum: float, squared_error_sum: float) -> dict[str, float]:
    """MAE and RMSE from running sums (what a window keeps); empty dict when ``n == 0``."""
    if n < 0 or abs_error_sum < 0 or squared_error_sum < 0:
        raise ValueError(
            f"regression sums must be >= 0, got n={n}, abs_error_sum={abs_error_sum}, "
            f"squared_error_sum={squared_error_sum}"
        )
    if n == 0:
        return {}
    return {mn.MAE: abs_error_sum / n, mn.RMSE: math.sqrt(squared_error_sum / n)}


def _number(value: Scalar, field: str, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field}[{index}]: regression needs a number, got {value!r}")
    return float(value)


def regression_errors(y_true: Sequence[Scalar], y_pred: Sequence[Scalar]) -> tuple[int, float, float]:
    """(n, sum |error|, sum error²) of numeric pairs; a non-number raises naming the item."""
    abs_sum = sq_sum = 0.0
    for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)):
        err = _number(p, "y_pred", i) - _number(t, "y_true", i)
        abs_sum += abs(err)
        sq_sum += err * err
    return len(y_true), abs_sum, sq_sum


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted values, linear interpolation between closest ranks."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_metrics(latencies_s: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99 and mean latency in seconds; empty dict without samples."""
    values = sorted(latencies_s)
    if not values:
        return {}
    if values[0] < 0 or not math.isfinite(values[-1]):
        raise ValueError(f"latencies_s must be finite and >= 0, got min={values[0]}, max={values[-1]}")
    return {
        mn.LATENCY_P50_S: percentile(values, 0.50),
        mn.LATENCY_P95_S: percentile(values, 0.95),
        mn.LATENCY_P99_S: percentile(values, 0.99),
        mn.LATENCY_MEAN_S: sum(values) / len(values),
    }


def traffic_metrics(count: int, errors: int, labelled: int, window_s: float | None) -> dict[str, float]:
    """count, error count/rate, labelled count/coverage and throughput (predictions per second)."""
    if count < 0 or errors < 0 or labelled < 0:
        raise ValueError(f"counts must be >= 0, got count={count}, errors={errors}, labelled={labelled}")
    if errors > count:
        raise ValueError(f"errors ({errors}) cannot exceed count ({count})")
    if window_s is not None and window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    out = {mn.COUNT: float(count), mn.ERROR_COUNT: float(errors), mn.LABELLED_COUNT: float(labelled)}
    if count:
        out[mn.ERROR_RATE] = errors / count
        out[mn.LABEL_COVERAGE] = min(1.0, labelled / count)
    if window_s is not None:
        out[mn.THROUGHPUT_PER_S] = count / window_s
    return out


class MLMetrics:
    """The seed's ``MLMetrics`` API over the pure functions above."""

    @staticmethod
    def calculate_metrics(
        task: Task,
        y_true: Sequence[Scalar],
        y_pred: Sequence[Scalar | None],
        *,
        latencies_s: Sequence[float] = (),
        count: int | None = None,
        errors: int = 0,
        window_s: float | None = None,
        positive_label: Scalar | None = None,
    ) -> dict[str, float]:
        """All metrics of one batch of labelled predictions.

        ``y_true``/``y_pred`` are the labelled pairs (a ``None`` prediction, a failed call, is left out
        of the quality metrics); ``count`` is the number of predictions in the window (default: the
        number of pairs), ``errors`` how many of them failed.
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        if len(y_true) != len(y_pred):
            raise ValueError(f"y_pred: length {len(y_pred)} differs from y_true length {len(y_true)}")
        pairs = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if p is not None]
        truth, preds = [t for t, _ in pairs], [p for _, p in pairs]
        total = len(y_true) if count is None else count
        out = traffic_metrics(total, errors, len(y_true), window_s)
        out.update(latency_metrics(latencies_s))
        if task == "regression":
            out.update(regression_metrics(*regression_errors(truth, preds)))
        else:
            out.update(classification_metrics(confusion_counts(truth, preds), positive_label))
        return out
