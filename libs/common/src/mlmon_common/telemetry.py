"""Prometheus metrics of a service: counters read from the runner/producer stats at scrape time.

Exposed names (stable; the Grafana dashboard and alerts use them):
``mlmon_consumed_total{service,topic}``, ``mlmon_handled_total{service,topic}``,
``mlmon_deadlettered_total{service,topic,reason}``, ``mlmon_produced_total{service,topic}``,
``mlmon_produce_failed_total{service,topic}``, ``mlmon_produce_dropped_total{service}``,
``mlmon_producer_resets_total{service}``,
``mlmon_handler_retries_total{service}``, ``mlmon_consumer_lag{service,topic,partition}``,
``mlmon_ready{service}``, ``mlmon_handler_seconds{service}`` (histogram, seconds per batch) and
``mlmon_handler_batch_size{service}`` (histogram).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mlmon_common.kafka import ConsumerRunner, EventProducer


class ServiceTelemetry(Collector):
    """Collects one service's Kafka counters; register the runner/producers it owns."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        self.runners: list[ConsumerRunner] = []
        self.producers: list[EventProducer] = []
        self.ready: Callable[[], bool] = lambda: True
        self.handler_seconds = Histogram(
            "mlmon_handler_seconds",
            "Time the handler took per batch",
            ["service"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ).labels(service)
        self.batch_size = Histogram(
            "mlmon_handler_batch_size",
            "Events per handled batch",
            ["service"],
            registry=self.registry,
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
        ).labels(service)
        self.registry.register(self)

    def observe(self, seconds: float, size: int) -> None:
        self.handler_seconds.observe(seconds)
        self.batch_size.observe(size)

    def collect(self) -> Iterator[Metric]:
        svc = self.service
        fams = {
            name: CounterMetricFamily(f"mlmon_{name}", doc, labels=labels)
            for name, doc, labels in (
                ("consumed", "Records consumed", ["service", "topic"]),
                ("handled", "Records handled successfully", ["service", "topic"]),
                ("deadlettered", "Records sent to the dead-letter topic", ["service", "topic", "reason"]),
                ("produced", "Records acknowledged by the broker", ["service", "topic"]),
                ("produce_failed", "Records the broker did not acknowledge", ["service", "topic"]),
                ("produce_dropped", "Records dropped because the local queue was full", ["service"]),
                ("producer_resets", "Producer clients replaced (lost producer id, fatal error)", ["service"]),
                ("handler_retries", "Batches retried after a retryable error", ["service"]),
            )
        }
        lag = GaugeMetricFamily(
            "mlmon_consumer_lag", "High watermark minus position", labels=["service", "topic", "partition"]
        )
        for runner in self.runners:
            for topic, n in runner.stats.consumed.items():
                fams["consumed"].add_metric([svc, topic], n)
            for topic, n in runner.stats.handled.items():
                fams["handled"].add_metric([svc, topic], n)
            for (topic, reason), n in runner.stats.deadlettered.items():
                fams["deadlettered"].add_metric([svc, topic, reason], n)
            fams["handler_retries"].add_metric([svc], runner.stats.retries)
            for (topic, partition), n in runner.stats.lag.items():
                lag.add_metric([svc, topic, str(partition)], n)
        produced: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for producer in self.producers:
            produced.update(producer.stats.produced)
            failed.update(producer.stats.failed)
        for topic, n in produced.items():
            fams["produced"].add_metric([svc, topic], n)
        for topic, n in failed.items():
            fams["produce_failed"].add_metric([svc, topic], n)
        fams["produce_dropped"].add_metric([svc], sum(p.stats.dropped for p in self.producers))
        fams["producer_resets"].add_metric([svc], sum(p.stats.resets for p in self.producers))
        ready = GaugeMetricFamily("mlmon_ready", "1 while the service is ready", labels=["service"])
        ready.add_metric([svc], 1.0 if self.ready() else 0.0)
        yield from fams.values()
        yield lag
        yield ready
