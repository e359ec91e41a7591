"""``PerformanceMonitor.monitor_metrics``: one model's metrics over a timeframe, from any series reader.

>>> from datetime import UTC, datetime
>>> from mlmon_reporting.memory_store import InMemorySeriesStore
>>> from mlmon_reporting.timeseries import Point
>>> now = datetime(2026, 1, 1, 12, tzinfo=UTC)
>>> store = InMemorySeriesStore()
>>> _ = store.write(Point("churn", "accuracy", now.replace(hour=11), 0.93))
>>> res = PerformanceMonitor(store, clock=lambda: now).monitor_metrics("churn", "24h")
>>> res.summary["accuracy"].last, res.summary["accuracy"].breached, res.breaches
(0.93, True, ['accuracy < 0.95'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from mlmon_common.events import utcnow
from mlmon_reporting import series_names as sn
from mlmon_reporting.api_shapes import Health, MetricsResponse, MetricSummary, SeriesData, ThresholdLine
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.thresholds import ThresholdRule, rules_for
from mlmon_reporting.timeframe import parse_duration
from mlmon_reporting.timeseries import Bucket, Resolution, choose_resolution, resolutions


class SeriesReader(Protocol):
    """What the monitor needs from a store (Redis in the service, memory in tests).

    A Redis reader implements ``read_series`` as: HVALS every key of
    ``timeseries.chunk_keys(model_id, series, res, start, end)`` in one pipeline, then
    ``timeseries.columns(results, start, end, res)``; ``series_names`` is ``HKEYS series_key(model_id)``.
    """

    def series_names(self, model_id: str) -> Sequence[str]: ...

    def read_series(
        self, model_id: str, series: str, res: Resolution, start: datetime, end: datetime
    ) -> SeriesData: ...


#: The seed's metric names -> series to read, first present wins.
KEY_METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": (sn.ACCURACY,),
    "latency": (sn.LATENCY_P95_S,),
    "error_rate": (sn.ERROR_RATE,),
    "throughput": (sn.THROUGHPUT_PER_S,),
    "cpu_usage": (sn.RESOURCE_CPU_PERCENT, sn.CPU_PERCENT),
    "memory_usage": (sn.RESOURCE_MEMORY_PERCENT, sn.MEMORY_PERCENT),
    "disk_usage": (sn.RESOURCE_DISK_PERCENT, sn.DISK_PERCENT),
    "data_drift": (sn.DATA_DRIFT,),
    "model_drift": (sn.MODEL_DRIFT,),
}


class PerformanceMonitor:
    def __init__(
        self,
        reader: SeriesReader,
        config: ReportingConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.reader = reader
        self.config = config or ReportingConfig()
        self.clock = clock
        self.raw, self.roll = resolutions(self.config.retention)

    def monitor_metrics(
        self, model_id: str, timeframe: str = "24h", *, series: Sequence[str] | None = None
    ) -> MetricsResponse:
        """Every stored series of ``model_id`` over the last ``timeframe`` plus the seed's key metrics."""
        span = parse_duration(timeframe, field="timeframe")
        end = self.clock()
        start = end - span
        res = choose_resolution(span, self.raw, self.roll)
        names = list(series) if series is not None else list(self.reader.series_names(model_id))
        read_many = getattr(self.reader, "read_many", None)
        if read_many is not None:  # one round trip for every series (the Redis store)
            data = read_many(model_id, names, res, start, end)
        else:
            data = {n: self.reader.read_series(model_id, n, res, start, end) for n in names}
        data = {n: d for n, d in data.items() if d.t}
        rules = rules_for(self.config.thresholds_for(model_id))
        summary = {key: key_summary(data, candidates, rules) for key, candidates in KEY_METRICS.items()}
        breaches = [rules[s.series].describe() for s in summary.values() if s is not None and s.breached]
        lines = [
            ThresholdLine(series=r.series, value=r.value, direction=r.direction, label=r.describe())
            for r in rules.values()
            if r.series in data
        ]
        return MetricsResponse(
            model_id=model_id,
            timeframe=timeframe,
            start=start,
            end=end,
            resolution_s=res.step_s,
            summary=summary,
            series=data,
            thresholds=lines,
            breaches=breaches,
        )


def to_series_data(buckets: Sequence[Bucket]) -> SeriesData:
    t: list[float] = []
    mean: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    last: list[float] = []
    for ts, a in buckets:
        t.append(float(ts))
        mean.append(a.sum / a.count)
        lo.append(a.min)
        hi.append(a.max)
        last.append(a.last)
    # model_construct: trusted floats we just decoded; validating 5 x 1440 floats per series costs ~3 ms.
    return SeriesData.model_construct(t=t, mean=mean, min=lo, max=hi, last=last)


def key_summary(
    data: dict[str, SeriesData], candidates: Sequence[str], rules: dict[str, ThresholdRule]
) -> MetricSummary | None:
    """Summary of the first candidate series present; ``breached`` judges the latest value."""
    name = next((c for c in candidates if c in data), None)
    if name is None:
        return None
    d = data[name]
    rule = rules.get(name)
    return MetricSummary(
        series=name,
        last=d.last[-1],
        mean=sum(d.mean) / len(d.mean),
        min=min(d.min),
        max=max(d.max),
        points=len(d.t),
        threshold=rule.value if rule else None,
        direction=rule.direction if rule else None,
        breached=rule.breached(d.last[-1]) if rule else False,
    )


def health(response: MetricsResponse, firing_severities: Sequence[int] = ()) -> Health:
    """``critical`` with a firing critical alert, ``degraded`` on a breach or other firing alert."""
    if not response.series:
        return "unknown"
    if 1 in firing_severities:
        return "critical"
    if response.breaches or firing_severities:
        return "degraded"
    return "healthy"
