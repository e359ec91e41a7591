"""Every Kafka topic mlmon uses, defined once.

Names follow ``mlmon.<entity>.v<N>`` (raw inputs: ``mlmon.raw.<entity>.v<N>``). Every message is keyed
by ``model_id`` so one model's events stay ordered in one partition and consumer groups scale by model.

>>> PREDICTIONS.name
'mlmon.predictions.v1'
>>> parse("mlmon.raw.labels.v1")
('raw.labels', 1)
>>> by_name("mlmon.alerts.v1") is ALERTS
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

_NAME = re.compile(r"^mlmon\.(?P<entity>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)\.v(?P<version>[0-9]+)$")

#: Seven days; state topics that must outlive a broker retention window are compacted instead.
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    """A topic: its name, how many partitions, which event types it carries, broker configs."""

    name: str
    partitions: int
    event_types: frozenset[str]
    description: str
    config: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    key: str = "model_id"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name.split("-", 1)[0]):
            raise ValueError(f"topic name {self.name!r} does not follow mlmon.<entity>.v<N>")

    @property
    def entity(self) -> str:
        return parse(self.name)[0]

    @property
    def version(self) -> int:
        return parse(self.name)[1]

    def with_suffix(self, suffix: str) -> Topic:
        """The same topic under a suffixed name (tests use per-test topics: ``...v1-3f2a``)."""
        return replace(self, name=f"{self.name}-{suffix}") if suffix else self


def parse(name: str) -> tuple[str, int]:
    """Split a topic name into (entity, version); a test suffix (``-abc``) is ignored."""
    m = _NAME.match(name.split("-", 1)[0])
    if not m:
        raise ValueError(f"not an mlmon topic name: {name!r}")
    return m["entity"], int(m["version"])


def _t(name: str, partitions: int, types: set[str], description: str, **config: str) -> Topic:
    cfg = {"retention.ms": str(DEFAULT_RETENTION_MS), **{k.replace("_", "."): v for k, v in config.items()}}
    return Topic(name, partitions, frozenset(types), description, cfg)


RAW_PREDICTIONS = _t("mlmon.raw.predictions.v1", 6, {"prediction"}, "predictions as model servers sent them")
RAW_LABELS = _t("mlmon.raw.labels.v1", 6, {"label"}, "ground-truth labels as sent (any order, any delay)")
PREDICTIONS = _t("mlmon.predictions.v1", 6, {"prediction"}, "validated, enriched predictions")
OUTCOMES = _t("mlmon.outcomes.v1", 6, {"outcome"}, "predictions joined with their labels")
RESOURCES = _t("mlmon.resources.v1", 3, {"resource"}, "host/pod/process resource samples")
METRICS = _t("mlmon.metrics.v1", 3, {"metrics"}, "windowed metrics per model")
DRIFT = _t("mlmon.drift.v1", 3, {"drift"}, "drift transitions and score snapshots")
ALERTS = _t("mlmon.alerts.v1", 3, {"alert"}, "alert lifecycle changes")
MAINTENANCE = _t("mlmon.maintenance.v1", 3, {"maintenance"}, "maintenance plans, states, results")
DEADLETTER = _t(
    "mlmon.deadletter.v1",
    3,
    set(),
    "records no consumer could handle, with headers naming the reason and source",
    retention_ms=str(30 * 24 * 3600 * 1000),
    max_message_bytes=str(8 * 1024 * 1024),
)

ALL: tuple[Topic, ...] = (
    RAW_PREDICTIONS,
    RAW_LABELS,
    PREDICTIONS,
    OUTCOMES,
    RESOURCES,
    METRICS,
    DRIFT,
    ALERTS,
    MAINTENANCE,
    DEADLETTER,
)
_BY_NAME = {t.name: t for t in ALL}


def by_name(name: str) -> Topic:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown topic {name!r}; known: {sorted(_BY_NAME)}") from None


#: Headers set on dead-lettered records.
DLQ_REASON = "mlmon.reason"
DLQ_ERROR_CLASS = "mlmon.error_class"
DLQ_SOURCE_TOPIC = "mlmon.source_topic"
DLQ_SOURCE_PARTITION = "mlmon.source_partition"
DLQ_SOURCE_OFFSET = "mlmon.source_offset"
DLQ_SERVICE = "mlmon.service"

#: Header on a derived record: ``<topic>:<partition>:<offset>`` of the consumed record it was derived from
#: (see :mod:`mlmon_common.kafka.origin`).
ORIGIN = "mlmon.origin"
