"""A poison message on every consumed topic of every service: each consumer dead-letters it with a reason
(headers of the common runner) and keeps going (a valid event sent after it is still processed)."""

from __future__ import annotations

import logging
from collections import Counter

import httpx
from confluent_kafka import Producer

from mlmon_collector.join import outcome_event_id
from mlmon_common import topics
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import EventProducer, origin_header
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import unique, wait_for

from .conftest import SERVICES, Feeder, Receiver, Stack, TopicReader, final_counts, low_accuracy, prediction, send

logger = logging.getLogger(__name__)

#: Consumed topic -> consumer groups (services) reading it: one dead letter per pair.
CONSUMERS: dict[str, int] = {
    topics.RAW_PREDICTIONS.name: 1,  # collector (raw -> canonical)
    topics.RAW_LABELS.name: 1,  # collector (raw -> canonical)
    topics.PREDICTIONS.name: 2,  # collector metrics, drift
    topics.OUTCOMES.name: 3,  # collector metrics, drift, maintenance
    topics.METRICS.name: 3,  # alerting, maintenance, reporting
    topics.DRIFT.name: 2,  # alerting, reporting
    topics.RESOURCES.name: 2,  # alerting, reporting
    topics.ALERTS.name: 2,  # maintenance, reporting
    topics.MAINTENANCE.name: 1,  # reporting
}
POISON = (b"{not json", b'{"event_type": "nope", "model_id": "m"}')


def _header(msg: object, name: str) -> str:
    for key, value in msg.headers() or []:  # type: ignore[attr-defined]
        if key == name:
            return (value or b"").decode()
    return ""


def test_poison_on_every_topic_is_dead_lettered_with_reason_and_services_keep_going(
    stack: Stack, module_kafka: KafkaSettings, receiver: Receiver
) -> None:
    dlq = TopicReader(module_kafka, topics.DEADLETTER.name)
    try:
        before = len(dlq.poll())
        tag = unique("poison-")
        producer = Producer(module_kafka.client_config())
        for name in CONSUMERS:
            for i, value in enumerate(POISON):
                producer.produce(module_kafka.topic(name), value, key=f"{tag}-{i}".encode())
        assert producer.flush(15) == 0
        expected = sum(CONSUMERS.values()) * len(POISON)

        def dead() -> list[object]:
            return [m for m in dlq.poll()[before:] if (m.key() or b"").decode().startswith(tag)]

        wait_for(lambda: len(dead()) >= expected, 60, f"{expected} dead letters")
        letters = dead()
        per_topic = Counter(_header(m, topics.DLQ_SOURCE_TOPIC) for m in letters)
        assert per_topic == {module_kafka.topic(t): n * len(POISON) for t, n in CONSUMERS.items()}
        per_pair = Counter((_header(m, topics.DLQ_SOURCE_TOPIC), _header(m, topics.DLQ_SERVICE)) for m in letters)
        assert all(n == len(POISON) for n in per_pair.values()), per_pair  # each consumer once per poison
        for m in letters:
            assert _header(m, topics.DLQ_REASON), "dead letter without a reason"
            assert _header(m, topics.DLQ_ERROR_CLASS)
            assert _header(m, topics.DLQ_SOURCE_OFFSET).isdigit()
    finally:
        dlq.close()

    # Every service is still ready and still processes valid events behind the poison.
    for name in stack.procs:
        assert stack.readyz(name) == 200, stack.procs[name].tail()
    model = unique("pm-")
    pred, label = prediction(model, 1)
    send(module_kafka, topics.RAW_PREDICTIONS.name, [pred])
    send(module_kafka, topics.RAW_LABELS.name, [label])
    send(module_kafka, topics.METRICS.name, [low_accuracy(model)])
    wait_for(lambda: receiver.deliveries([model]), 30, "the alert notification after the poison")
    wait_for(
        lambda: httpx.get(f"{stack.url('reporting')}/v1/alerts", params={"model_id": model}).json().get("alerts"),
        30,
        "the alert stored by reporting after the poison",
    )


def _outbox(stack: Stack) -> dict[str, int]:
    doc: dict[str, int] = httpx.get(f"{stack.url('alerting')}/v1/receivers/outbox", timeout=5).json()
    return doc


def test_receiver_failing_then_timing_out_then_back_delivers_each_notification_once(
    stack: Stack, module_kafka: KafkaSettings, receiver: Receiver
) -> None:
    """5xx for a while, then answers slower than the webhook timeout (1 s), then healthy again. Backoff is
    shortened by env (``MLMON_ALERTING_RETRY_INITIAL_S=0.2``, ``MLMON_ALERTING_RETRY_MAX_S=1``)."""
    models = [unique("rf-") for _ in range(3)]
    receiver.mode = "fail"
    try:
        send(module_kafka, topics.METRICS.name, [low_accuracy(m) for m in models])
        wait_for(lambda: receiver.attempts_by_mode["fail"] >= 3 * len(models), 30, "failed attempts (503)")
        receiver.mode = "timeout"
        wait_for(lambda: receiver.attempts_by_mode["timeout"] >= 2 * len(models), 30, "timed-out attempts")
        assert receiver.deliveries(models) == []
        assert _outbox(stack)["pending"] >= len(models)
    finally:
        receiver.mode = "ok"
    wait_for(lambda: len(receiver.deliveries(models)) >= len(models), 30, "the notifications after recovery")
    wait_for(lambda: _outbox(stack)["pending"] == 0, 30, "an empty outbox")
    got = receiver.deliveries(models)
    assert sorted((d["model_id"], d["status"]) for d in got) == sorted((m, "firing") for m in models)
    assert all(n == 1 for n in receiver.keys(models).values()), receiver.keys(models)
    assert _outbox(stack)["failed"] == 0


def _drift_seen(stack: Stack, model: str) -> int:
    resp = httpx.get(f"{stack.url('drift')}/v1/models/{model}/drift", timeout=5)
    return int(resp.json().get("events_seen", -1)) if resp.status_code == 200 else -1


def _plans(stack: Stack, model: str) -> list[dict[str, object]]:
    plans: list[dict[str, object]] = httpx.get(
        f"{stack.url('maintenance')}/v1/plans", params={"model": model}, timeout=5
    ).json()["plans"]
    return plans


def _reporting_alerts(stack: Stack, model: str) -> list[dict[str, object]]:
    alerts: list[dict[str, object]] = httpx.get(
        f"{stack.url('reporting')}/v1/alerts", params={"model_id": model}, timeout=5
    ).json()["alerts"]
    return alerts


def test_kill9_each_service_mid_stream_reconciles_every_output(
    stack: Stack, module_kafka: KafkaSettings, receiver: Receiver
) -> None:
    """Predictions + labels flow all along; each service in turn is killed -9 and restarted while an alert
    (low accuracy) is sent for a fresh model. Then: canonical predictions, outcomes (distinct by event id),
    metrics windows (count of the last revision of each window), drift's events_seen, notifications (by
    idempotency key), plans and reporting's alert log all reconcile with what was sent."""
    models = [unique("km-") for _ in range(3)]
    alert_models: list[str] = []
    preds, outs, mets = (
        TopicReader(module_kafka, t.name) for t in (topics.PREDICTIONS, topics.OUTCOMES, topics.METRICS)
    )
    try:
        with Feeder(module_kafka, models) as feeder:
            for name in SERVICES:
                before = feeder.n
                wait_for(lambda b=before: feeder.n >= b + 100, 30, "the stream flowing")  # type: ignore[misc]
                stack.kill9(name)
                alert_model = unique(f"ka-{name}-")
                alert_models.append(alert_model)
                send(module_kafka, topics.METRICS.name, [low_accuracy(alert_model)])
                stack.start(name)
            wait_for(lambda: feeder.n >= before + 300, 30, "the stream after the last restart")
        total = sum(feeder.sent.values())
        expected_ids = {outcome_event_id(m, p) for m, p in feeder.pids}

        def outcome_ids() -> set[str]:
            return {e.event_id for e in outs.events() if e.model_id in models}

        wait_for(lambda: outcome_ids() >= expected_ids, 60, f"{total} outcomes")
        assert outcome_ids() == expected_ids

        def canonical() -> list[PredictionEvent]:
            return [e for e in preds.events() if e.model_id in models]

        wait_for(lambda: {(e.model_id, e.prediction_id) for e in canonical()} >= feeder.pids, 60, "predictions")
        canon = canonical()
        assert {(e.model_id, e.prediction_id) for e in canon} == feeder.pids
        assert len({e.event_id for e in canon}) == total

        # Each prediction is counted once by the metrics windows and by drift, whatever copies are on the topic:
        # their own replay is skipped by offset, the copies the killed raw -> canonical consumer republished by
        # their mlmon.origin header.
        sent = Counter(m for m, _ in feeder.pids)
        wait_for(lambda: final_counts(mets.events(), set(models)) == sent, 60, "metrics windows")
        try:
            wait_for(lambda: all(_drift_seen(stack, m) == sent[m] for m in models), 30, "drift events_seen")
        except TimeoutError:
            seen = {m: _drift_seen(stack, m) for m in models}
            raise AssertionError(f"drift events_seen {seen}, sent {dict(sent)}, on topic {len(canon)}") from None
        wait_for(lambda: len(receiver.deliveries(alert_models)) >= len(alert_models), 60, "the alert notifications")
        wait_for(lambda: all(_reporting_alerts(stack, m) for m in alert_models), 30, "alerts stored by reporting")
        wait_for(lambda: all(_plans(stack, m) for m in alert_models), 30, "one plan per alerted model")
        assert sorted(d["model_id"] for d in receiver.deliveries(alert_models)) == sorted(alert_models)
        assert all(n == 1 for n in receiver.keys().values()), "a notification was delivered twice"
        assert all(len(_plans(stack, m)) == 1 for m in alert_models)
        assert all(len(_reporting_alerts(stack, m)) == 1 for m in alert_models)
        dupes = {
            "outcomes": len([e for e in outs.events() if e.model_id in models]) - total,
            "predictions": len(canon) - total,
        }
        logger.warning("kill -9 reconciliation: %d predictions sent, redelivered copies %s", total, dupes)
    finally:
        for reader in (preds, outs, mets):
            reader.close()


def test_upstream_replay_copies_count_once(stack: Stack, module_kafka: KafkaSettings) -> None:
    """What a replay of the raw -> canonical consumer publishes after its kill -9: copies with the same
    event_id and the same mlmon.origin header. The metrics windows and drift count them once; a record from
    another raw offset, and a record without the header, count."""
    model = unique("rp-")
    (first, _), (second, _), (third, _) = (prediction(model, n) for n in (1, 2, 3))
    source = unique("replay-src-")  # origins are tracked per source partition: keep this test's own
    producer = EventProducer(module_kafka, client_id=unique("replay-"))
    try:
        for event, offset in ((first, 7), (first, 7), (second, 8), (first, 7), (second, 8)):
            producer.send(topics.PREDICTIONS.name, event, [origin_header(source, 0, offset)])
        producer.send(topics.PREDICTIONS.name, third)
        assert producer.flush(15) == 0, "not acknowledged by the broker"
    finally:
        producer.close()
    mets = TopicReader(module_kafka, topics.METRICS.name)
    try:
        wait_for(lambda: final_counts(mets.events(), {model})[model] >= 3, 30, "the window of the predictions")
        wait_for(lambda: _drift_seen(stack, model) >= 3, 30, "drift to see the predictions")
        assert final_counts(mets.events(), {model}) == {model: 3}
        assert _drift_seen(stack, model) == 3
    finally:
        mets.close()
