"""Names of the windowed metrics: the keys of ``MetricsEvent.values`` (the collector publishes them).

Defined once here and documented in ``docs/metrics.md``; every producer and consumer of metrics
events should import these constants instead of spelling the strings.

>>> LATENCY_P99_S
'latency_p99_s'
>>> ACCURACY in ALL
True
"""

from __future__ import annotations

# Traffic (every window)
COUNT = "count"
ERROR_COUNT = "error_count"
ERROR_RATE = "error_rate"
THROUGHPUT_PER_S = "throughput_per_s"
LATENCY_P50_S = "latency_p50_s"
LATENCY_P95_S = "latency_p95_s"
LATENCY_P99_S = "latency_p99_s"
LATENCY_MEAN_S = "latency_mean_s"

# Labels
LABELLED_COUNT = "labelled_count"
LABEL_COVERAGE = "label_coverage"

# Classification
ACCURACY = "accuracy"
PRECISION = "precision"
RECALL = "recall"
F1 = "f1"
PRECISION_MACRO = "precision_macro"
RECALL_MACRO = "recall_macro"
F1_MACRO = "f1_macro"
PRECISION_WEIGHTED = "precision_weighted"
RECALL_WEIGHTED = "recall_weighted"
F1_WEIGHTED = "f1_weighted"

# Regression
MAE = "mae"
RMSE = "rmse"

# Business impact
MODEL_VALUE = "model_value"
BASELINE_VALUE = "baseline_value"
COST_SAVINGS = "cost_savings"
EFFICIENCY_GAIN = "efficiency_gain"
QUALITY_IMPROVEMENT = "quality_improvement"

# Resources (same names as the ResourceEvent fields)
CPU_PERCENT = "cpu_percent"
MEMORY_PERCENT = "memory_percent"
DISK_PERCENT = "disk_percent"
NET_BYTES_IN_PER_S = "net_bytes_in_per_s"
NET_BYTES_OUT_PER_S = "net_bytes_out_per_s"

ALL: frozenset[str] = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
