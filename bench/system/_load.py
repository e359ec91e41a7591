"""The paced load generator of the pipeline benchmark (runs in its own process).

Produces 14-feature prediction events to ``mlmon.raw.predictions.v1`` at a fixed rate, and for a share of them
a label (the prediction is right 97 % of the time, so accuracy stays above the default ``accuracy_min`` and
the load itself raises no alerts). Every ``sample_every``-th prediction's produce time is kept for the
end-to-end latency of its metrics window.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

from mlmon_common import topics
from mlmon_common.events import LabelEvent, PredictionEvent, new_event_id
from mlmon_common.settings import KafkaSettings

#: The 14 features of every load model: (name, type, min, max | categories).
NUMERIC = [
    ("age", "integer", 18, 90),
    ("income", "number", 0, 250_000),
    ("tenure", "integer", 0, 40),
    ("balance", "number", -5_000, 50_000),
    ("products", "integer", 1, 6),
    ("credit_score", "integer", 300, 850),
    ("sessions_30d", "integer", 0, 500),
    ("avg_basket", "number", 0, 2_000),
    ("days_since_login", "integer", 0, 365),
    ("support_tickets", "integer", 0, 50),
    ("discount_rate", "number", 0, 1),
]
CATEGORICAL = [("country", ["DE", "FR", "US", "UK", "ES"]), ("plan", ["basic", "pro", "team"])]
BOOLEAN = ["active"]


def registry_entry(model_id: str) -> dict[str, object]:
    """The model's entry for the collector's registry (``collector.models`` in the YAML config)."""
    features: list[dict[str, object]] = [{"name": n, "type": t, "min": lo, "max": hi} for n, t, lo, hi in NUMERIC]
    features += [{"name": n, "type": "category", "categories": c} for n, c in CATEGORICAL]
    features += [{"name": n, "type": "boolean"} for n in BOOLEAN]
    return {"model_id": model_id, "task": "classification", "positive_label": 1, "features": features}


def feature_pool(size: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    pool = []
    for _ in range(size):
        row: dict[str, object] = {}
        for name, kind, lo, hi in NUMERIC:
            x = rng.uniform(lo, hi)
            row[name] = int(x) if kind == "integer" else round(x, 3)
        for name, cats in CATEGORICAL:
            row[name] = rng.choice(cats)
        for name in BOOLEAN:
            row[name] = rng.random() < 0.5
        pool.append(row)
    return pool


@dataclass
class LoadPlan:
    bootstrap: str
    models: list[str]
    rate: float
    duration_s: float
    label_share: float
    out: str
    sample_every: int = 10
    start_at: float = 0.0  # wall clock (time.time()) to start at


@dataclass
class LoadResult:
    predictions: int = 0
    labels: int = 0
    started: float = 0.0
    ended: float = 0.0
    delivery_failures: int = 0
    cpu_s: float = 0.0  # CPU seconds of the generator process (serialise + produce)
    per_second: list[int] = field(default_factory=list)
    #: (model_id, produce wall time = occurred_at) of every sample_every-th prediction
    samples: list[tuple[str, float]] = field(default_factory=list)


def _check_contract(pred: bytes, label: bytes | None) -> None:
    """The hand-built JSON must decode as the contract's events (fails fast if the contract changed)."""
    ev = PredictionEvent.model_validate_json(pred)
    if len(ev.features) != 14:
        raise ValueError(f"expected 14 features, got {len(ev.features)}")
    if label is not None:
        LabelEvent.model_validate_json(label)


def run_load(plan: LoadPlan) -> None:
    """Produce the load; writes a :class:`LoadResult` as JSON to ``plan.out``."""
    kafka = KafkaSettings(bootstrap=plan.bootstrap)
    producer = Producer(
        kafka.client_config() | {"linger.ms": 20, "compression.type": "lz4", "queue.buffering.max.messages": 2_000_000}
    )
    res = LoadResult()

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            res.delivery_failures += 1

    pred_topic = kafka.topic(topics.RAW_PREDICTIONS.name)
    label_topic = kafka.topic(topics.RAW_LABELS.name)
    pool = feature_pool(512)
    rng = random.Random(11)
    keys = [m.encode() for m in plan.models]
    n_models = len(plan.models)
    total = int(plan.rate * plan.duration_s)
    label_every = max(1, round(1 / plan.label_share)) if plan.label_share > 0 else 0
    checked = False
    while time.time() < plan.start_at:
        time.sleep(min(0.01, max(0.0, plan.start_at - time.time())))
    res.started = start = time.time()
    sent = 0
    second_mark, in_second = start + 1, 0
    while sent < total:
        now = time.time()
        due = min(total, int((now - start) * plan.rate))
        if due <= sent:
            producer.poll(0.002)
            continue
        for _ in range(due - sent):
            i = sent
            m = i % n_models
            at = time.time()
            ts = datetime.fromtimestamp(at, UTC).isoformat()
            pid = f"p{i:09d}"
            pred = rng.random() < 0.5
            body = json.dumps({
                "event_id": new_event_id(), "occurred_at": ts, "schema_version": 1, "model_id": plan.models[m],
                "event_type": "prediction", "prediction_id": pid, "model_version": "v1",
                "features": pool[i % 512], "prediction": int(pred), "score": round(rng.random(), 4),
                "latency_ms": round(5 + 20 * rng.random(), 2),
            }).encode()  # fmt: skip
            label_body = None
            if label_every and i % label_every == 0:
                right = rng.random() < 0.97
                label_body = json.dumps({
                    "event_id": new_event_id(), "occurred_at": ts, "schema_version": 1,
                    "model_id": plan.models[m], "event_type": "label", "prediction_id": pid,
                    "label": int(pred if right else not pred),
                }).encode()  # fmt: skip
            if not checked:
                _check_contract(body, label_body)
                checked = True
            _produce(producer, pred_topic, body, keys[m], on_delivery)
            if label_body is not None:
                _produce(producer, label_topic, label_body, keys[m], on_delivery)
                res.labels += 1
            if i % plan.sample_every == 0:
                res.samples.append((plan.models[m], at))
            sent += 1
            in_second += 1
            if at >= second_mark:
                res.per_second.append(in_second)
                second_mark, in_second = second_mark + 1, 0
        producer.poll(0)
    res.per_second.append(in_second)
    res.ended = time.time()
    res.predictions = sent
    remaining = producer.flush(60)
    res.delivery_failures += remaining
    res.cpu_s = round(time.process_time(), 1)
    Path(plan.out).write_text(json.dumps(asdict(res)))


def _produce(producer: Producer, topic: str, value: bytes, key: bytes, cb: object) -> None:
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=cb)
            return
        except BufferError:
            producer.poll(0.01)
