"""Prometheus metrics of the drift worker (registered on the service's registry, served at ``/metrics``).

``mlmon_drift_events_processed_total{topic}``, ``mlmon_drift_deadlettered_total{topic,reason}``,
``mlmon_drift_events_emitted_total{kind,state}``, ``mlmon_drift_transitions_suppressed_total``,
``mlmon_drift_replay_skipped_total``, ``mlmon_drift_upstream_copies_skipped_total``,
``mlmon_drift_checkpoints_total``, ``mlmon_drift_restored_total``,
``mlmon_drift_models`` (gauge: monitors held by this worker).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._processed = Counter(
            "mlmon_drift_events_processed", "Records applied to a drift monitor", ["topic"], registry=registry
        )
        self._deadlettered = Counter(
            "mlmon_drift_deadlettered", "Records sent to the dead-letter topic", ["topic", "reason"], registry=registry
        )
        self._emitted = Counter(
            "mlmon_drift_events_emitted", "DriftEvents published", ["kind", "state"], registry=registry
        )
        self.suppressed = Counter(
            "mlmon_drift_transitions_suppressed", "Transitions already published (replay)", registry=registry
        )
        self.replay_skipped = Counter(
            "mlmon_drift_replay_skipped", "Records a restored checkpoint already covered", registry=registry
        )
        self.upstream_copies_skipped = Counter(
            "mlmon_drift_upstream_copies_skipped",
            "Canonical records republished by a replay of the collector (mlmon.origin already applied)",
            registry=registry,
        )
        self.checkpoints = Counter("mlmon_drift_checkpoints", "Model checkpoints written", registry=registry)
        self.restored = Counter("mlmon_drift_restored", "Monitors restored from a checkpoint", registry=registry)
        self.models = Gauge("mlmon_drift_models", "Models monitored by this worker", registry=registry)

    def processed(self, topic: str, n: int = 1) -> None:
        self._processed.labels(topic).inc(n)

    def deadlettered(self, topic: str, reason: str) -> None:
        self._deadlettered.labels(topic, reason).inc()

    def emitted(self, kind: str, state: str) -> None:
        self._emitted.labels(kind, state).inc()
