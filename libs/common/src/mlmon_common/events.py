"""The mlmon event contract: one pydantic model per event type, one envelope, one decoder.

Every event on an mlmon topic is a JSON object with the envelope fields (``event_id``,
``occurred_at``, ``schema_version``, ``model_id``, ``event_type``) and the fields of its type.
Unknown fields are ignored (producers may be newer than consumers); wrong types, missing
fields, NaN/inf numbers, naive timestamps and unknown ``event_type`` values are rejected.

>>> ev = PredictionEvent(model_id="churn", prediction_id="p1", features={"age": 41}, prediction=1)
>>> decode_event(ev.to_json()) == ev
True
>>> decode_event(b'{"event_type": "nope"}')
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for tagged-union[...]
...
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)

SCHEMA_VERSION = 1

#: Identifiers: model ids, prediction ids, feature names. Printable, bounded, no surprises in keys.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")]
FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(max_length=1000)]
#: A scalar value a model sees or emits. ``bool`` first so JSON true/false stay booleans.
Scalar: TypeAlias = bool | int | float | Annotated[str, StringConstraints(max_length=10_000)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]


_RNG = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _RNG.seed(os.urandom(32)))


def new_event_id() -> str:
    """A random version-4 UUID string from a per-process generator seeded by ``os.urandom`` (re-seeded
    after fork); 3x cheaper than ``str(uuid.uuid4())``, which makes a syscall per id.

    >>> import uuid
    >>> uuid.UUID(new_event_id()).version
    4
    """
    h = f"{_RNG.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Severity(IntEnum):
    """Alert severity; the number is the seed's priority (1 is the most urgent)."""

    CRITICAL = 1
    WARNING = 2
    INFO = 3


class Envelope(BaseModel):
    """Fields every mlmon event carries."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False, protected_namespaces=())

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        default_factory=new_event_id, description="Unique id of this event; consumers dedupe on it."
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utcnow, description="Event time, timezone-aware (RFC 3339 with offset)."
    )
    schema_version: Literal[1] = 1
    model_id: Identifier = Field(description="The model this event is about; also the Kafka message key.")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @property
    def key(self) -> bytes:
        """The Kafka message key: events of one model stay in one partition, in order."""
        return self.model_id.encode()


class DataQuality(BaseModel):
    """Schema checks the collector ran against the model registry (counts, names)."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    unknown_features: list[str] = Field(default_factory=list)
    missing_features: list[str] = Field(default_factory=list)
    out_of_range: list[str] = Field(default_factory=list)
    type_mismatch: list[str] = Field(default_factory=list)
    null_features: list[str] = Field(default_factory=list)
    unregistered_model: bool = Field(default=False, description="No registry entry: nothing was checked.")

    @property
    def violations(self) -> int:
        return (
            len(self.unknown_features) + len(self.missing_features) + len(self.out_of_range) + len(self.type_mismatch)
        )


class PredictionEvent(Envelope):
    """One prediction a model server made (raw, or canonical once the collector validated it)."""

    event_type: Literal["prediction"] = "prediction"
    prediction_id: Identifier
    model_version: Annotated[str, StringConstraints(max_length=100)] = "unknown"
    features: dict[FeatureName, Scalar | None] = Field(default_factory=dict)
    prediction: Scalar | None = None
    score: float | None = Field(default=None, description="Score/probability of the predicted class.")
    scores: dict[Label, float] | None = Field(default=None, description="Per-class scores, if any.")
    latency_ms: NonNegative | None = None
    error: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="Set when the prediction call failed."
    )
    host: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    data_quality: DataQuality | None = Field(default=None, description="Filled by the collector on canonical events.")


class LabelEvent(Envelope):
    """The ground truth for an earlier prediction (may arrive before it, late, twice or never)."""

    event_type: Literal["label"] = "label"
    prediction_id: Identifier
    label: Scalar
    value: float | None = Field(default=None, description="Business value of this outcome, if known.")


class OutcomeEvent(Envelope):
    """A prediction joined with its label: exactly one per labelled prediction."""

    event_type: Literal["outcome"] = "outcome"
    prediction_id: Identifier
    task: Literal["classification", "regression", "unknown"] = "unknown"
    model_version: str = "unknown"
    features: dict[FeatureName, Scalar | None] = Field(
        default_factory=dict, description="The prediction's features (retraining data for maintenance)."
    )
    prediction: Scalar | None = None
    label: Scalar
    score: float | None = None
    correct: bool | None = Field(default=None, description="Classification: prediction == label.")
    abs_error: NonNegative | None = Field(default=None, description="Regression: |prediction - label|.")
    predicted_at: AwareDatetime
    labelled_at: AwareDatetime
    latency_ms: NonNegative | None = None
    label_value: float | None = None


class ResourceEvent(Envelope):
    """A sample of host/pod/process resources. ``model_id`` is the model served, or the service name."""

    event_type: Literal["resource"] = "resource"
    service: Identifier
    host: str
    pod: str | None = None
    cpu_percent: Annotated[float, Field(ge=0)]
    memory_percent: Annotated[float, Field(ge=0, le=100)]
    disk_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    net_bytes_in_per_s: NonNegative | None = None
    net_bytes_out_per_s: NonNegative | None = None
    process_cpu_percent: NonNegative | None = None
    process_rss_bytes: NonNegative | None = None
    interval_s: NonNegative | None = None


class MetricsEvent(Envelope):
    """Windowed metrics of one model (tumbling event-time window); re-emitted with a higher revision."""

    event_type: Literal["metrics"] = "metrics"
    window_start: AwareDatetime
    window_end: AwareDatetime
    revision: Annotated[int, Field(ge=0)] = 0
    task: Literal["classification", "regression", "unknown"] = "unknown"
    values: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], float] = Field(
        description="Metric name -> value: accuracy, precision, recall, f1, latency_p50_s, "
        "latency_p95_s, latency_p99_s, error_rate, throughput_per_s, count, label_coverage, "
        "cpu_percent, memory_percent, ... (names in docs/metrics.md)."
    )


DriftKind = Literal["feature", "prediction", "concept", "model", "data"]


class DriftEvent(Envelope):
    """A drift state transition (started/ended) or a periodic score snapshot."""

    event_type: Literal["drift"] = "drift"
    kind: DriftKind
    state: Literal["started", "ended", "snapshot"]
    feature: str | None = Field(default=None, description="Feature name for kind=feature.")
    detector: str
    score: float = Field(description="Drift score; for kind=data the share of drifting features (0-1).")
    threshold: float | None = None
    statistic: float | None = None
    p_value: Probability | None = None
    window_events: Annotated[int, Field(ge=0)] | None = None
    details: dict[str, Any] = Field(default_factory=dict)


AlertStatus = Literal["pending", "firing", "resolved"]


class AlertEvent(Envelope):
    """A lifecycle change of one alert (identified by its label fingerprint)."""

    event_type: Literal["alert"] = "alert"
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    alertname: Identifier
    status: AlertStatus
    severity: Severity
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    value: float | None = None
    acknowledged_by: str | None = None
    recommended_actions: list[str] = Field(default_factory=list)


PlanState = Literal["proposed", "approved", "running", "succeeded", "failed", "cancelled"]


class MaintenanceEvent(Envelope):
    """A maintenance plan changed state, or an auto action was recommended/applied."""

    event_type: Literal["maintenance"] = "maintenance"
    plan_id: Identifier
    state: PlanState
    actions: list[str]
    priority: Annotated[int, Field(ge=1, le=5)] = 3
    reason: str = ""
    actor: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


Event = Annotated[
    PredictionEvent
    | LabelEvent
    | OutcomeEvent
    | ResourceEvent
    | MetricsEvent
    | DriftEvent
    | AlertEvent
    | MaintenanceEvent,
    Field(discriminator="event_type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: dict[str, type[Envelope]] = {
    "prediction": PredictionEvent,
    "label": LabelEvent,
    "outcome": OutcomeEvent,
    "resource": ResourceEvent,
    "metrics": MetricsEvent,
    "drift": DriftEvent,
    "alert": AlertEvent,
    "maintenance": MaintenanceEvent,
}


def decode_event(raw: bytes | str) -> Event:
    """Validate one JSON document into its event model. Raises ``pydantic.ValidationError``."""
    return EVENT_ADAPTER.validate_json(raw)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every event type, keyed by ``event_type`` (used by ``mlmon schemas export``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in EVENT_TYPES.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://mlmon.dev/schemas/{name}.v{SCHEMA_VERSION}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[name] = schema
    return out
