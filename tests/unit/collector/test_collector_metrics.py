from __future__ import annotations

import math

import pytest

from mlmon_collector.metrics import (
    MLMetrics,
    canonical_label,
    classification_metrics,
    confusion_counts,
    latency_metrics,
    percentile,
    regression_errors,
    regression_metrics,
    traffic_metrics,
)
from mlmon_common import metric_names as mn

BIN_TRUE = [1, 0, 1, 1]
BIN_PRED = [1, 0, 0, 1]


def test_metric_names_are_unique_and_cover_event_doc() -> None:
    for name in ("accuracy", "precision", "recall", "f1", "latency_p50_s", "latency_p95_s"):
        assert name in mn.ALL
    assert {"latency_p99_s", "error_rate", "throughput_per_s", "count", "label_coverage"} <= mn.ALL
    assert len(mn.ALL) == 32  # 8 traffic, 2 label, 10 classification, 2 regression, 5 business, 5 resource


def test_canonical_label_unifies_numbers_bools_and_text() -> None:
    assert canonical_label(1) == canonical_label(1.0) == canonical_label("1") == "1"
    assert canonical_label(True) == canonical_label("True") == canonical_label("true") == "true"
    assert canonical_label(False) == "false"
    assert canonical_label(0.25) == "0.25"
    assert canonical_label("cat") == "cat"


def test_binary_metrics_hand_computed() -> None:
    # TP=2 FP=0 FN=1 TN=1
    m = classification_metrics(confusion_counts(BIN_TRUE, BIN_PRED), positive_label=1)
    assert m[mn.ACCURACY] == 0.75
    assert m[mn.PRECISION] == 1.0
    assert m[mn.RECALL] == pytest.approx(2 / 3)
    assert m[mn.F1] == pytest.approx(0.8)
    # class 0: P=0.5 R=1 F1=2/3; macro and weighted (supports 3 and 1)
    assert m[mn.PRECISION_MACRO] == pytest.approx(0.75)
    assert m[mn.RECALL_MACRO] == pytest.approx(5 / 6)
    assert m[mn.F1_MACRO] == pytest.approx(11 / 15)
    assert m[mn.PRECISION_WEIGHTED] == pytest.approx(0.875)
    assert m[mn.RECALL_WEIGHTED] == pytest.approx(0.75)
    assert m[mn.F1_WEIGHTED] == pytest.approx(23 / 30)


def test_binary_positive_label_matches_across_types() -> None:
    m = classification_metrics(confusion_counts(["1", "0", "1", "1"], [1.0, 0, 0, False]), "1")
    assert m[mn.PRECISION] == 1.0
    assert m[mn.RECALL] == pytest.approx(1 / 3)


def test_binary_positive_label_never_seen_gives_zero() -> None:
    m = classification_metrics(confusion_counts([0, 0], [0, 0]), positive_label=1)
    assert (m[mn.PRECISION], m[mn.RECALL], m[mn.F1]) == (0.0, 0.0, 0.0)
    assert m[mn.ACCURACY] == 1.0


def test_multiclass_macro_and_weighted_hand_computed() -> None:
    y_true = ["a", "a", "b", "c", "c", "c"]
    y_pred = ["a", "b", "b", "c", "c", "a"]
    m = classification_metrics(confusion_counts(y_true, y_pred))
    assert m[mn.ACCURACY] == pytest.approx(4 / 6)
    assert m[mn.PRECISION_MACRO] == pytest.approx(2 / 3)
    assert m[mn.RECALL_MACRO] == pytest.approx(13 / 18)
    assert m[mn.F1_MACRO] == pytest.approx(59 / 90)
    assert m[mn.PRECISION_WEIGHTED] == pytest.approx(0.75)
    assert m[mn.RECALL_WEIGHTED] == pytest.approx(4 / 6)
    assert m[mn.F1_WEIGHTED] == pytest.approx(61 / 90)
    # without a positive label the headline keys are the macro averages
    assert m[mn.PRECISION] == m[mn.PRECISION_MACRO]
    assert m[mn.RECALL] == m[mn.RECALL_MACRO]
    assert m[mn.F1] == m[mn.F1_MACRO]


def test_classification_of_nothing_is_empty() -> None:
    assert classification_metrics({}) == {}


def test_regression_hand_computed() -> None:
    n, abs_sum, sq_sum = regression_errors([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    assert (n, abs_sum, sq_sum) == (4, 2.0, 1.5)
    m = regression_metrics(n, abs_sum, sq_sum)
    assert m == {mn.MAE: 0.5, mn.RMSE: math.sqrt(0.375)}
    assert regression_metrics(0, 0.0, 0.0) == {}


def test_regression_rejects_non_numbers_naming_the_item() -> None:
    with pytest.raises(ValueError, match=r"y_pred\[1\]: regression needs a number, got 'x'"):
        regression_errors([1, 2], [1, "x"])
    with pytest.raises(ValueError, match=r"y_true\[0\]: regression needs a number, got True"):
        regression_errors([True], [1])
    with pytest.raises(ValueError, match="regression sums must be >= 0"):
        regression_metrics(-1, 0.0, 0.0)


def test_percentile_linear_interpolation() -> None:
    values = [0.1, 0.2, 0.3, 0.4, 1.0]
    assert percentile(values, 0.5) == pytest.approx(0.3)
    assert percentile(values, 0.95) == pytest.approx(0.88)
    assert percentile(values, 0.99) == pytest.approx(0.976)
    assert percentile(values, 0.0) == 0.1
    assert percentile(values, 1.0) == 1.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_bad_input() -> None:
    with pytest.raises(ValueError, match="percentile of an empty sequence"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\], got 1.5"):
        percentile([1.0], 1.5)


def test_latency_metrics_sorts_and_rejects_negative() -> None:
    m = latency_metrics([1.0, 0.4, 0.1, 0.3, 0.2])
    assert m[mn.LATENCY_P50_S] == pytest.approx(0.3)
    assert m[mn.LATENCY_P95_S] == pytest.approx(0.88)
    assert m[mn.LATENCY_P99_S] == pytest.approx(0.976)
    assert m[mn.LATENCY_MEAN_S] == pytest.approx(0.4)
    assert latency_metrics([]) == {}
    with pytest.raises(ValueError, match="latencies_s must be finite and >= 0"):
        latency_metrics([-0.1, 0.2])
    with pytest.raises(ValueError, match="latencies_s must be finite and >= 0"):
        latency_metrics([0.1, math.inf])


def test_traffic_metrics() -> None:
    m = traffic_metrics(count=10, errors=2, labelled=4, window_s=60)
    assert m == {
        mn.COUNT: 10.0,
        mn.ERROR_COUNT: 2.0,
        mn.LABELLED_COUNT: 4.0,
        mn.ERROR_RATE: 0.2,
        mn.LABEL_COVERAGE: 0.4,
        mn.THROUGHPUT_PER_S: 10 / 60,
    }
    assert traffic_metrics(0, 0, 0, None) == {mn.COUNT: 0.0, mn.ERROR_COUNT: 0.0, mn.LABELLED_COUNT: 0.0}
    # coverage is capped at 1 (outcomes counted before their predictions)
    assert traffic_metrics(2, 0, 3, None)[mn.LABEL_COVERAGE] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": -1, "errors": 0, "labelled": 0, "window_s": 1}, "counts must be >= 0, got count=-1"),
        ({"count": 1, "errors": 2, "labelled": 0, "window_s": 1}, r"errors \(2\) cannot exceed count \(1\)"),
        ({"count": 1, "errors": 0, "labelled": 0, "window_s": 0}, "window_s must be > 0, got 0"),
    ],
)
def test_traffic_metrics_bad_input(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        traffic_metrics(**kwargs)  # type: ignore[arg-type]


def test_calculate_metrics_classification_end_to_end() -> None:
    m = MLMetrics.calculate_metrics(
        "classification",
        [*BIN_TRUE, 1],
        [*BIN_PRED, None],  # the failed call is left out of quality metrics
        latencies_s=[0.1, 0.2, 0.3, 0.4, 1.0],
        count=10,
        errors=1,
        window_s=60,
        positive_label=1,
    )
    assert m[mn.COUNT] == 10.0
    assert m[mn.LABELLED_COUNT] == 5.0
    assert m[mn.LABEL_COVERAGE] == 0.5
    assert m[mn.ERROR_RATE] == 0.1
    assert m[mn.ACCURACY] == 0.75
    assert m[mn.F1] == pytest.approx(0.8)
    assert m[mn.LATENCY_P50_S] == pytest.approx(0.3)
    assert m[mn.THROUGHPUT_PER_S] == pytest.approx(1 / 6)


def test_calculate_metrics_regression_defaults_count_to_pairs() -> None:
    m = MLMetrics.calculate_metrics("regression", [3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    assert m == {
        mn.COUNT: 4.0,
        mn.ERROR_COUNT: 0.0,
        mn.LABELLED_COUNT: 4.0,
        mn.ERROR_RATE: 0.0,
        mn.LABEL_COVERAGE: 1.0,
        mn.MAE: 0.5,
        mn.RMSE: math.sqrt(0.375),
    }


def test_calculate_metrics_bad_input() -> None:
    with pytest.raises(ValueError, match=r"task must be one of \['classification', 'regression', 'unknown'\]"):
        MLMetrics.calculate_metrics("ranking", [], [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="y_pred: length 1 differs from y_true length 2"):
        MLMetrics.calculate_metrics("classification", [1, 0], [1])
