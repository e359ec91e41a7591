"""Prometheus metrics of the collector's own work (read at scrape time; nothing on the hot path).

``mlmon_collector_join_pending``                     pending predictions in the join (all processes)
``mlmon_collector_join_total{kind}``                 outcomes, duplicates, expired (never labelled), evicted
``mlmon_collector_canonical_total{kind}``            this process: canonical, labels, outcomes, reemitted,
                                                     violations, unregistered
``mlmon_collector_metrics_total{kind}``              this process: applied, skipped_replayed,
                                                     skipped_upstream_copies, emitted, checkpoints
``mlmon_collector_windows_open``                     open metrics windows in this process
``mlmon_collector_windows_dropped_late``             events later than the allowed lateness (this process)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlmon_collector.canonical import CanonicalStage
from mlmon_collector.joiner_store import JoinStore
from mlmon_collector.metrics_stage import MetricsStage
from mlmon_common.errors import RetryableError

logger = logging.getLogger(__name__)


class CollectorStats(Collector):
    def __init__(self, join: JoinStore, canonical: CanonicalStage | None, metrics: MetricsStage | None) -> None:
        self.join, self.canonical, self.metrics = join, canonical, metrics

    def collect(self) -> Iterator[Metric]:
        try:
            joined = self.join.stats()
        except RetryableError as exc:
            logger.warning("join stats unavailable", extra={"error": str(exc)})
            joined = None
        if joined is not None:
            pending = GaugeMetricFamily("mlmon_collector_join_pending", "Predictions waiting for their label")
            pending.add_metric([], joined.pop("pending"))
            yield pending
            yield _counters("mlmon_collector_join", "Late-label join counters (all processes)", joined)
        if self.canonical is not None:
            yield _counters("mlmon_collector_canonical", "Raw -> canonical counters", asdict(self.canonical.counters))
        if self.metrics is not None:
            yield _counters("mlmon_collector_metrics", "Windowed metrics counters", asdict(self.metrics.counters))
            open_ = GaugeMetricFamily("mlmon_collector_windows_open", "Open metrics windows")
            open_.add_metric([], self.metrics.open_windows())
            yield open_
            late = GaugeMetricFamily("mlmon_collector_windows_dropped_late", "Events beyond the allowed lateness")
            late.add_metric([], self.metrics.dropped_late())
            yield late


def _counters(name: str, doc: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=["kind"])
    for kind, n in values.items():
        family.add_metric([kind], n)
    return family
