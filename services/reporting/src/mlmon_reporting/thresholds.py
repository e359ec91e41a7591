"""Which series each threshold applies to, and in which direction.

>>> rule = rules_for(Thresholds())["accuracy"]
>>> rule.breached(0.94), rule.breached(0.96), rule.describe()
(True, False, 'accuracy < 0.95')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlmon_reporting import series_names as sn
from mlmon_reporting.config import Thresholds

Direction = Literal["min", "max"]

#: series name -> (threshold field, direction). ``min``: the value must stay at or above it.
THRESHOLD_SERIES: dict[str, tuple[str, Direction]] = {
    sn.ACCURACY: ("accuracy_min", "min"),
    sn.LATENCY_P95_S: ("latency_max", "max"),
    sn.ERROR_RATE: ("error_rate_max", "max"),
    sn.CPU_PERCENT: ("cpu_max", "max"),
    sn.MEMORY_PERCENT: ("memory_max", "max"),
    sn.DISK_PERCENT: ("disk_max", "max"),
    sn.RESOURCE_CPU_PERCENT: ("cpu_max", "max"),
    sn.RESOURCE_MEMORY_PERCENT: ("memory_max", "max"),
    sn.RESOURCE_DISK_PERCENT: ("disk_max", "max"),
    sn.DATA_DRIFT: ("data_drift_max", "max"),
    sn.MODEL_DRIFT: ("model_drift_max", "max"),
}


@dataclass(frozen=True)
class ThresholdRule:
    series: str
    name: str
    value: float
    direction: Direction

    def breached(self, x: float) -> bool:
        return x < self.value if self.direction == "min" else x > self.value

    def describe(self) -> str:
        return f"{self.series} {'<' if self.direction == 'min' else '>'} {self.value:g}"


def rules_for(thresholds: Thresholds) -> dict[str, ThresholdRule]:
    """One rule per thresholded series name."""
    return {
        series: ThresholdRule(series, name, float(getattr(thresholds, name)), direction)
        for series, (name, direction) in THRESHOLD_SERIES.items()
    }
