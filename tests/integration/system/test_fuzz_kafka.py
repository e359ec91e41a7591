"""Hypothesis against the collector's raw Kafka entry points (``mlmon.raw.predictions.v1``,
``mlmon.raw.labels.v1``), consumed by the collector built in this process on the real broker and Redis.

Each example is a batch of records, mixed: random bytes, random JSON, truncated or byte-flipped valid events,
events of the wrong type for the topic, and random valid-shaped predictions and labels. After each batch:
the collector consumed every record, ``consumed = handled + dead-lettered`` per topic (from ``/metrics``),
every valid event was handled (never dead-lettered), and the service stays alive. At the end every
dead-lettered record is on the dead-letter topic with an error class and a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from confluent_kafka import Producer
from hypothesis import HealthCheck, given, settings

from mlmon_common import topics
from mlmon_common.events import LabelEvent, PredictionEvent
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import consume_n, wait_for

RAW = (topics.RAW_PREDICTIONS.name, topics.RAW_LABELS.name)
BATCHES = 12

_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=16)
_scalars = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(-1e9, 1e9, allow_nan=False), st.booleans(), st.text(max_size=12)
)
_predictions = st.builds(
    PredictionEvent,
    model_id=st.sampled_from(["fz-a", "fz-b"]),
    prediction_id=_ids,
    features=st.dictionaries(st.sampled_from(["f1", "f2", "f3", "age"]), _scalars | st.none(), max_size=4),
    prediction=_scalars | st.none(),
    score=st.none() | st.floats(0, 1),
    latency_ms=st.none() | st.floats(0, 1e5),
    tags=st.dictionaries(_ids, st.text(max_size=10), max_size=2),
)
_labels = st.builds(LabelEvent, model_id=st.sampled_from(["fz-a", "fz-b"]), prediction_id=_ids, label=_scalars)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@dataclass(frozen=True)
class Rec:
    topic: str
    value: bytes
    valid: bool  # a well-formed event of the topic's type: must be handled, never dead-lettered
    key: bytes | None = None


@st.composite
def records(draw: st.DrawFn) -> Rec:
    topic = draw(st.sampled_from(RAW))
    good = draw(_predictions if topic == RAW[0] else _labels)
    other = draw(_labels if topic == RAW[0] else _predictions)
    encoded = good.to_json()
    kind = draw(st.sampled_from(["valid", "valid", "bytes", "json", "truncated", "flipped", "wrong_type", "extra"]))
    key = draw(st.none() | st.binary(max_size=8))
    if kind == "valid":
        return Rec(topic, encoded, True, good.key)
    if kind == "extra":  # unknown fields are tolerated
        doc = json.loads(encoded) | {"x_unknown": draw(_json)}
        return Rec(topic, json.dumps(doc).encode(), True, key)
    if kind == "bytes":
        return Rec(topic, draw(st.binary(min_size=1, max_size=300)), False, key)
    if kind == "json":
        return Rec(topic, json.dumps(draw(_json), allow_nan=True).encode() or b"null", False, key)
    if kind == "truncated":
        return Rec(topic, encoded[: draw(st.integers(1, len(encoded) - 1))], False, key)
    if kind == "flipped":
        i = draw(st.integers(0, len(encoded) - 1))
        flipped = encoded[:i] + bytes([encoded[i] ^ draw(st.integers(1, 255))]) + encoded[i + 1 :]
        return Rec(topic, flipped, False, key)  # may still decode (a changed letter in a string): either outcome
    return Rec(topic, other.to_json(), False, key)  # a label on the predictions topic and vice versa


@dataclass
class Ledger:
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RAW, 0))
    valid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RAW, 0))


def test_raw_topics_handle_or_dead_letter_every_record(start_service: Any, kafka: KafkaSettings) -> None:
    producer = Producer(kafka.client_config() | {"message.max.bytes": 4 * 1024 * 1024, "linger.ms": 5})
    ledger = Ledger()
    with start_service("collector") as svc:
        wait_for(lambda: svc.runtime.probes.ready()[0], 30, "collector consumers assigned")

        def counters(topic: str) -> tuple[float, float, float]:
            t = kafka.topic(topic)
            return (
                svc.counter("mlmon_consumed_total", topic=t),
                svc.counter("mlmon_handled_total", topic=t),
                svc.counter("mlmon_deadlettered_total", topic=t),
            )

        @settings(max_examples=BATCHES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(batch=st.lists(records(), min_size=1, max_size=25))
        def fuzz(batch: list[Rec]) -> None:
            before = {t: counters(t) for t in RAW}
            for rec in batch:
                producer.produce(kafka.topic(rec.topic), rec.value, key=rec.key)
                ledger.sent[rec.topic] += 1
                ledger.valid[rec.topic] += rec.valid
            assert producer.flush(30) == 0
            for topic in RAW:
                n = sum(r.topic == topic for r in batch)
                valid = sum(r.valid for r in batch if r.topic == topic)
                wait_for(lambda t=topic, n=n: counters(t)[0] - before[t][0] >= n, 30, f"{n} records on {topic}")
                consumed, handled, dead = (a - b for a, b in zip(counters(topic), before[topic], strict=True))
                assert consumed == n, (topic, consumed, n)
                assert handled + dead == consumed, (topic, handled, dead, consumed)
                assert handled >= valid, f"{topic}: {valid} valid events, only {handled} handled"
            assert svc.http.get("/healthz").status_code == 200

        fuzz()
        # one record above the 1 MiB event limit and one empty record, outside hypothesis (slow to shrink)
        big = PredictionEvent(model_id="fz-a", prediction_id="big", tags={"blob": "x" * (1024 * 1024)}).to_json()
        for value in (big, b""):
            producer.produce(kafka.topic(RAW[0]), value)
            ledger.sent[RAW[0]] += 1
        assert producer.flush(30) == 0
        total = sum(ledger.sent.values())
        wait_for(lambda: sum(counters(t)[0] for t in RAW) >= total, 30, "the oversized and empty records")
        final = {t: counters(t) for t in RAW}
        dead_total = int(sum(c[2] for c in final.values()))
        for topic, (consumed, handled, dead) in final.items():
            assert consumed == ledger.sent[topic], (topic, final[topic])
            assert handled + dead == consumed, (topic, final[topic])
            assert handled >= ledger.valid[topic]
        metrics = svc.http.get("/metrics").text
        assert 'reason="PayloadTooLarge"' in metrics
        assert svc.http.get("/healthz").status_code == 200

    dead = consume_n(kafka, kafka.topic(topics.DEADLETTER.name), dead_total, timeout_s=30) if dead_total else []
    sources = {kafka.topic(t) for t in RAW}
    for msg in dead:
        headers = {k: v.decode() for k, v in msg.headers() or []}
        assert headers.get("mlmon.source_topic") in sources, headers
        assert headers.get("mlmon.error_class"), headers
        assert headers.get("mlmon.reason"), headers
        assert headers.get("mlmon.service") == "collector"
