"""Names of the time series reporting stores per model.

Metric series carry the ``MetricsEvent.values`` key unchanged (the collector's names, see
``docs/metrics.md``). Other events map to prefixed names so sources never mix:

* ``ResourceEvent`` -> ``resource.cpu_percent``, ``resource.memory_percent``, ... (field names)
* ``DriftEvent`` -> ``data_drift``, ``model_drift``, ``concept_drift``, ``prediction_drift`` (score),
  ``feature_drift.<feature>`` (score of one feature), ``drift.started`` (1 per started transition)
* ``AlertEvent`` -> ``alerts.firing`` / ``alerts.resolved`` (1 per transition),
  ``alerts.firing.critical|warning|info``
* ``MaintenanceEvent`` -> ``maintenance.<state>`` (1 per transition)

>>> feature_drift("age"), feature_of("feature_drift.age"), feature_of("accuracy")
('feature_drift.age', 'age', None)
"""

from __future__ import annotations

# Metric names: the keys of MetricsEvent.values, defined once in mlmon_common.metric_names (re-exported).
from mlmon_common.metric_names import (
    ACCURACY as ACCURACY,
    COUNT as COUNT,
    CPU_PERCENT as CPU_PERCENT,
    DISK_PERCENT as DISK_PERCENT,
    ERROR_RATE as ERROR_RATE,
    LATENCY_P50_S as LATENCY_P50_S,
    LATENCY_P95_S as LATENCY_P95_S,
    LATENCY_P99_S as LATENCY_P99_S,
    MEMORY_PERCENT as MEMORY_PERCENT,
    THROUGHPUT_PER_S as THROUGHPUT_PER_S,
)

RESOURCE_PREFIX = "resource."
RESOURCE_CPU_PERCENT = "resource.cpu_percent"
RESOURCE_MEMORY_PERCENT = "resource.memory_percent"
RESOURCE_DISK_PERCENT = "resource.disk_percent"

DATA_DRIFT = "data_drift"
MODEL_DRIFT = "model_drift"
CONCEPT_DRIFT = "concept_drift"
PREDICTION_DRIFT = "prediction_drift"
FEATURE_DRIFT_PREFIX = "feature_drift."
DRIFT_STARTED = "drift.started"

ALERTS_FIRING = "alerts.firing"
ALERTS_RESOLVED = "alerts.resolved"
MAINTENANCE_PREFIX = "maintenance."


def feature_drift(feature: str) -> str:
    return FEATURE_DRIFT_PREFIX + feature


def feature_of(series: str) -> str | None:
    """The feature name of a ``feature_drift.<feature>`` series, else ``None``."""
    return series[len(FEATURE_DRIFT_PREFIX) :] if series.startswith(FEATURE_DRIFT_PREFIX) else None
