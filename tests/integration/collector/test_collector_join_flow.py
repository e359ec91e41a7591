"""Raw -> canonical and the late-label join on the real broker and Redis: labels before their prediction,
after it, twice, or never give exactly the expected outcomes; replaying the same raw input after a restart
(a new consumer group reading from the start, and the same records produced again) gives no second one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from confluent_kafka import Producer

from mlmon_collector.config import CollectorConfig
from mlmon_collector.join import outcome_event_id
from mlmon_collector.registry import FeatureSpec, ModelEntry
from mlmon_common import topics
from mlmon_common.events import DataQuality, Envelope, LabelEvent, OutcomeEvent, PredictionEvent
from mlmon_common.kafka import origin_of
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import consume_n, unique, wait_for

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CONFIG = CollectorConfig(
    models=[
        ModelEntry(
            model_id="churn",
            task="classification",
            positive_label=1,
            features=[FeatureSpec(name="age", type="integer", min=0, max=120)],
        )
    ]
)


def pred(pid: str, age: object = 30, prediction: int = 1, model_id: str = "churn") -> PredictionEvent:
    return PredictionEvent(
        model_id=model_id,
        prediction_id=pid,
        features={"age": age},
        prediction=prediction,
        score=0.7,
        latency_ms=10,
        occurred_at=T0,
    )


def label(pid: str, value: int, minutes: int = 5, model_id: str = "churn") -> LabelEvent:
    return LabelEvent(model_id=model_id, prediction_id=pid, label=value, occurred_at=T0 + timedelta(minutes=minutes))


def _script() -> list[tuple[str, Envelope]]:
    """(raw topic, event) in sending order; expected outcome labels in EXPECTED."""
    p, lab = topics.RAW_PREDICTIONS.name, topics.RAW_LABELS.name
    return [
        (lab, label("before", 1)),  # label first, prediction later
        (p, pred("after")),
        (lab, label("after", 0)),  # label after its prediction
        (p, pred("twice")),
        (lab, label("twice", 1)),
        (lab, label("twice", 0, minutes=9)),  # duplicated label: ignored
        (lab, label("early-twice", 0)),  # two labels before the prediction: the first wins
        (lab, label("early-twice", 1, minutes=7)),
        (p, pred("never", age=400)),  # never labelled (and out of range)
        (p, pred("before")),
        (p, pred("early-twice")),
        (p, pred("other", model_id="unregistered")),  # an unknown model is never dropped
        (lab, label("other", 1, model_id="unregistered")),
    ]


EXPECTED = {"before": 1, "after": 0, "twice": 1, "early-twice": 0, "other": 1}


def _sentinel(send: Callable[[str, Envelope], None], name: str) -> None:
    """A final pair per model: once its outcome exists, everything sent before it was handled (per-model order)."""
    for model_id in ("churn", "unregistered"):
        send(topics.RAW_PREDICTIONS.name, pred(name, model_id=model_id))
        send(topics.RAW_LABELS.name, label(name, 1, model_id=model_id))


def test_out_of_order_labels_give_exactly_one_outcome_each_and_replays_none(
    kafka: KafkaSettings, start_collector: Any, send: Callable[[str, Envelope], None], reader: Any
) -> None:
    script = _script()
    for topic, event in script:
        send(topic, event)
    bad = Producer(kafka.client_config())
    bad.produce(kafka.topic(topics.RAW_LABELS.name), b'{"event_type": "label", "model_id": "churn"}', b"churn")
    assert bad.flush(30) == 0
    _sentinel(send, "sentinel-1")
    with start_collector(CONFIG, metrics_enabled=False) as svc:
        stats = wait_for(lambda: (s := svc.join.stats())["outcomes"] >= 7 and s, 45, "7 outcomes confirmed")
        scraped = httpx.get(f"{svc.url}/metrics").text
    for line in (
        'mlmon_collector_join_total{kind="outcomes"} 7.0',
        'mlmon_collector_join_total{kind="duplicates"} 2.0',
        "mlmon_collector_join_pending 1.0",
        'mlmon_collector_canonical_total{kind="unregistered"} 2.0',
        'mlmon_collector_canonical_total{kind="violations"} 1.0',
    ):
        assert line in scraped, line
    outcomes = reader.read_all(topics.OUTCOMES.name, at_least=7)
    (dead,) = consume_n(kafka, kafka.topic(topics.DEADLETTER.name), 1)
    headers = {k: v.decode() for k, v in dead.headers() or []}
    assert (headers["mlmon.service"], headers["mlmon.error_class"]) == ("collector", "ValidationError")
    assert "prediction_id: Field required" in headers["mlmon.reason"]
    by_pid = {o.prediction_id: o for o in outcomes if o.prediction_id.startswith("sentinel") is False}
    assert len(outcomes) == 7, [o.prediction_id for o in outcomes]
    assert {pid: o.label for pid, o in by_pid.items()} == EXPECTED
    assert stats == {"pending": 1, "outcomes": 7, "duplicates": 2, "expired": 0, "evicted": 0}
    first = by_pid["after"]
    assert isinstance(first, OutcomeEvent)
    assert first.event_id == outcome_event_id("churn", "after")
    assert (first.task, first.correct, first.features, first.predicted_at) == ("classification", False, {"age": 30}, T0)
    assert by_pid["other"].task == "unknown"

    sent_predictions = [e for _, e in script if isinstance(e, PredictionEvent)]
    canonical = {e.event_id: e for e in reader.read(topics.PREDICTIONS.name, len(sent_predictions) + 2)}
    for raw in sent_predictions:
        assert raw.event_id in canonical, "canonical keeps the raw event_id"
    quality = {e.prediction_id: e.data_quality for e in canonical.values() if e.model_id == "churn"}
    assert quality["never"] == DataQuality(out_of_range=["age"])
    assert quality["after"] == DataQuality()
    assert canonical[sent_predictions[-1].event_id].data_quality == DataQuality(unregistered_model=True)
    # every canonical record and outcome names the raw record it came from (consumers skip replayed copies)
    raw_topics = (kafka.topic(topics.RAW_PREDICTIONS.name), kafka.topic(topics.RAW_LABELS.name))
    for topic, n in ((topics.PREDICTIONS.name, len(canonical)), (topics.OUTCOMES.name, 7)):
        origins = [origin_of(m.headers()) for m in consume_n(kafka, kafka.topic(topic), n)]
        assert all(o is not None and o.decode().rsplit(":", 2)[0] in raw_topics for o in origins), origins
        assert len(set(origins)) == n, "one raw record each"

    # Replay: a new consumer group reads every raw record again from the start (same offsets), and the same
    # raw events are produced once more (new offsets). Neither may produce a second outcome.
    for topic, event in script:
        send(topic, event)
    _sentinel(send, "sentinel-2")
    replay = kafka.model_copy(update={"group_prefix": unique("replay")})
    with start_collector(CONFIG, kafka_settings=replay, metrics_enabled=False) as svc:
        wait_for(lambda: svc.join.stats()["outcomes"] >= 9, 45, "the second sentinel pair")
        stats = svc.join.stats()
    outcomes = reader.read_all(topics.OUTCOMES.name, at_least=9)
    assert sorted(o.prediction_id for o in outcomes) == sorted([*EXPECTED, *["sentinel-1"] * 2, *["sentinel-2"] * 2])
    assert stats["outcomes"] == 9
    assert stats["pending"] == 1  # "never" is still waiting
