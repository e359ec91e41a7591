"""Timeline tests (Alertmanager acceptance style): events at relative times, notifications in windows.

The clock is injected: ``Timeline.run(until)`` ticks the core once per second from T0 and records
every notification with the second it was produced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mlmon_alerting.config import AlertingConfig, parse_config
from mlmon_alerting.grouping import Notification
from mlmon_alerting.pipeline import AlertingCore
from mlmon_alerting.silences import Silence
from mlmon_common.events import DriftEvent, Envelope, MetricsEvent, ResourceEvent

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
BASE = """
route:
  receiver: ops
  group_by: [model_id]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers: [{name: ops}, {name: night}]
resolve_timeout: 1d
"""


def cfg(extra: str = "") -> AlertingConfig:
    return parse_config(BASE + extra)


def metrics(model: str = "churn", **values: float) -> MetricsEvent:
    return MetricsEvent(model_id=model, window_start=T0, window_end=T0, values=values)


def drift(kind: str, score: float, model: str = "churn") -> DriftEvent:
    return DriftEvent(model_id=model, kind=kind, state="snapshot", detector="x", score=score)


class Timeline:
    def __init__(self, config: AlertingConfig) -> None:
        self.core = AlertingCore(config)
        self.events: dict[int, list[Envelope]] = {}
        self.sent: list[tuple[int, Notification]] = []

    def at(self, second: int, *events: Envelope) -> Timeline:
        self.events.setdefault(second, []).extend(events)
        return self

    def run(self, until: int) -> Timeline:
        start = self.sent[-1][0] + 1 if self.sent else 0
        for t in range(start, until + 1):
            now = T0 + timedelta(seconds=t)
            for ev in self.events.pop(t, []):
                self.core.handle(ev, now)  # type: ignore[arg-type]
            self.core.expire(now)
            self.sent.extend((t, n) for n in self.core.tick(now))
        return self

    def summary(self) -> list[tuple[int, str, list[tuple[str, str]]]]:
        return [(t, n.status, [(a["alertname"], a["status"]) for a in n.alerts]) for t, n in self.sent]


def test_group_wait_batches_then_group_interval_then_resolve() -> None:
    tl = Timeline(cfg())
    tl.at(0, metrics(accuracy=0.5)).at(10, metrics(error_rate=0.5)).at(100, drift("model", 0.5))
    tl.at(400, metrics(accuracy=0.99)).at(700, metrics(error_rate=0.0), drift("model", 0.0))
    assert tl.run(1000).summary() == [
        (30, "firing", [("ModelAccuracyLow", "firing"), ("PredictionErrorRateHigh", "firing")]),
        (330, "firing", [("ModelAccuracyLow", "firing"), ("ModelDrift", "firing"),
                         ("PredictionErrorRateHigh", "firing")]),
        (630, "firing", [("ModelAccuracyLow", "resolved"), ("ModelDrift", "firing"),
                         ("PredictionErrorRateHigh", "firing")]),
        (930, "resolved", [("ModelDrift", "resolved"), ("PredictionErrorRateHigh", "resolved")]),
    ]  # fmt: skip
    assert tl.core.dispatcher.groups == {}  # fully resolved group is dropped


def test_repeat_interval_resends_unchanged_firing_group() -> None:
    tl = Timeline(cfg()).at(0, metrics(accuracy=0.5))
    times = [t for t, _ in tl.run(3 * 3600 + 60).sent]
    assert times == [30, 30 + 3600, 30 + 7200, 30 + 10800]
    keys = [n.idempotency_key for _, n in tl.sent]
    assert len(set(keys)) == 4  # each repeat is a distinct delivery, a replay of one is not


def test_group_wait_zero_notifies_at_once_and_groups_split_by_model() -> None:
    tl = Timeline(cfg().model_copy(update={"route": cfg().route.model_copy(update={"group_wait": 0.0})}))
    tl.at(5, metrics("a", accuracy=0.5), metrics("b", accuracy=0.5))
    sent = tl.run(10).sent
    assert [(t, n.group_labels) for t, n in sent] == [(5, {"model_id": "a"}), (5, {"model_id": "b"})]


def test_inhibition_mutes_targets_while_source_fires() -> None:
    tl = Timeline(cfg("""
inhibit_rules:
  - source_matchers: ['alertname="ModelDrift"']
    target_matchers: ['alertname="ModelAccuracyLow"']
    equal: [model_id]
"""))  # fmt: skip
    tl.at(0, drift("model", 0.5), metrics(accuracy=0.5), metrics("other", accuracy=0.5))
    tl.at(400, drift("model", 0.0))
    assert tl.run(700).summary() == [
        (30, "firing", [("ModelDrift", "firing")]),
        (30, "firing", [("ModelAccuracyLow", "firing")]),  # model "other": no source there
        (630, "firing", [("ModelAccuracyLow", "firing"), ("ModelDrift", "resolved")]),
    ]


def test_silence_mutes_until_it_expires() -> None:
    tl = Timeline(cfg())
    tl.core.set_silences(
        [Silence(id="s", matchers=['model_id="churn"'], starts_at=T0, ends_at=T0 + timedelta(seconds=600),
                 created_by="ana", comment="planned retraining")]
    )  # fmt: skip
    tl.at(0, metrics(accuracy=0.5), metrics("other", accuracy=0.5))
    assert [(t, n.group_labels["model_id"]) for t, n in tl.run(1000).sent] == [(30, "other"), (630, "churn")]


def test_for_duration_delays_the_first_notification() -> None:
    tl = Timeline(cfg("rules: {accuracy_min: {for: 2m}}"))
    for t in range(0, 301, 60):
        tl.at(t, metrics(accuracy=0.5))
    sent = tl.run(300).sent
    assert [t for t, _ in sent] == [150]  # firing at 120, + group_wait 30
    assert sent[0][1].alerts[0]["starts_at"] == "2026-11-27T09:02:00+00:00"


def test_flapping_inside_hysteresis_does_not_renotify() -> None:
    tl = Timeline(cfg())
    tl.at(0, metrics(accuracy=0.5)).at(100, metrics(accuracy=0.951)).at(200, metrics(accuracy=0.94))
    assert [t for t, _ in tl.run(1000).sent] == [30]


def test_stale_alert_resolves_after_resolve_timeout() -> None:
    tl = Timeline(cfg().model_copy(update={"resolve_timeout": 120.0})).at(0, metrics(accuracy=0.5))
    assert tl.run(700).summary() == [
        (30, "firing", [("ModelAccuracyLow", "firing")]),
        (330, "resolved", [("ModelAccuracyLow", "resolved")]),  # resolved at 120, flushed at 330
    ]


def test_route_mute_time_interval() -> None:
    # Friday 09:00 UTC: "ops" is muted until 09:10; `continue` sends to "night" as well.
    config = parse_config("""
route:
  receiver: ops
  group_by: [model_id]
  group_wait: 30s
  group_interval: 5m
  routes:
    - {matchers: ['alertname=~".+"'], receiver: ops, mute_time_intervals: [office], continue: true}
    - {matchers: ['alertname=~".+"'], receiver: night}
receivers: [{name: ops}, {name: night}]
resolve_timeout: 1d
time_intervals: [{name: office, time_intervals: [{times: [{start_time: "09:00", end_time: "09:10"}]}]}]
""")  # fmt: skip
    tl = Timeline(config).at(0, metrics(accuracy=0.5))
    assert [(t, n.receiver) for t, n in tl.run(700).sent] == [(30, "night"), (630, "ops")]


def test_daily_and_weekly_digests() -> None:
    core = AlertingCore(cfg())
    hour = timedelta(hours=1)
    core.handle(metrics(latency_p95_s=1.0), T0 + hour)  # warning -> daily digest
    core.handle(metrics(latency_p95_s=0.01), T0 + 2 * hour)
    core.handle(metrics(latency_p95_s=1.0), T0 + 3 * hour)  # fired twice
    ev = ResourceEvent(model_id="api", service="api", host="h", cpu_percent=99, memory_percent=1)
    core.handle(ev, T0 + hour)  # CPUUsageHigh is a warning by default -> daily as well
    info = parse_config(BASE + "rules: {disk_max: {severity: info}}")
    weekly = AlertingCore(info)
    disk = ResourceEvent(model_id="api", service="api", host="h", cpu_percent=1, memory_percent=1, disk_percent=99)
    weekly.handle(disk, T0 + hour)
    assert core.tick(T0 + 23 * hour) == []
    assert core.dispatcher.groups == {}  # warnings never go through immediate groups
    digest = core.tick(T0 + 24 * hour)
    assert len(digest) == 1
    note = digest[0]
    assert (note.kind, note.receiver, note.status) == ("digest", "ops", "firing")
    assert note.extra["text"].splitlines() == [
        "mlmon daily digest for ops: 2 alerts (2 still firing) since 2026-11-27T10:00",
        "",
        "- [firing] api on h: CPU 99.0% above 80.0%: fired 1 time, first seen 2026-11-27T10:00:00+00:00, "
        "last seen 2026-11-27T10:00:00+00:00",
        "- [firing] churn: p95 latency 1.000s above 0.2s: fired 2 times, first seen 2026-11-27T10:00:00+00:00, "
        "last seen 2026-11-27T12:00:00+00:00",
    ]
    assert core.tick(T0 + 48 * hour) == []  # the book was emptied
    assert weekly.tick(T0 + 71 * hour) == []  # Monday 08:00
    (w,) = weekly.tick(T0 + 72 * hour)  # Monday 2026-11-30 09:00
    assert w.extra["title"].startswith("mlmon weekly digest for ops: 1 alerts")


def test_acknowledge_through_the_core() -> None:
    core = AlertingCore(cfg())
    (ev,) = core.handle(metrics(accuracy=0.5), T0)
    acked = core.acknowledge(ev.fingerprint, "ana", T0)
    assert acked is not None
    assert (acked.status, acked.acknowledged_by) == ("firing", "ana")
    assert core.states[ev.fingerprint]["acknowledged_by"] == "ana"


def test_restart_from_json_state_still_sends_the_resolve() -> None:
    import json

    core = AlertingCore(cfg())
    core.handle(metrics(accuracy=0.5), T0)
    (first,) = core.tick(T0 + timedelta(seconds=30))
    saved = json.dumps({"states": core.states, "groups": core.dispatcher.groups, "books": core.digests.books})
    # kill -9 here: a new process restores the dicts from the store.
    data = json.loads(saved)
    again = AlertingCore(cfg(), data["states"], data["groups"], data["books"])
    assert again.tick(T0 + timedelta(seconds=31)) == []
    (changed,) = again.handle(metrics(accuracy=0.99), T0 + timedelta(seconds=60))
    assert changed.status == "resolved"
    (resolved,) = again.tick(T0 + timedelta(seconds=330))
    assert [(a["alertname"], a["status"]) for a in resolved.alerts] == [("ModelAccuracyLow", "resolved")]
    assert resolved.idempotency_key != first.idempotency_key
    # replaying the same input after another restart produces the same notification key
    replay = AlertingCore(cfg(), json.loads(saved)["states"], json.loads(saved)["groups"])
    replay.handle(metrics(accuracy=0.99), T0 + timedelta(seconds=60))
    (same,) = replay.tick(T0 + timedelta(seconds=330))
    assert same.idempotency_key == resolved.idempotency_key


def test_next_boundary_edges() -> None:
    from mlmon_alerting.digests import next_boundary

    at_nine = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 09:00 exactly
    assert next_boundary("daily", at_nine, "09:00", "monday") == at_nine + timedelta(days=1)
    assert next_boundary("weekly", at_nine, "09:00", "monday") == at_nine + timedelta(days=7)
    assert next_boundary("weekly", at_nine - timedelta(minutes=1), "09:00", "monday") == at_nine
    assert next_boundary("daily", at_nine, "23:30", "monday") == at_nine.replace(hour=23, minute=30)


def test_silenced_warning_is_left_out_of_the_digest() -> None:
    core = AlertingCore(cfg())
    core.set_silences(
        [Silence(matchers=['alertname="ModelLatencyHigh"'], starts_at=T0, ends_at=T0 + timedelta(days=1),
                 created_by="ana", comment="known slow backend")]
    )  # fmt: skip
    core.handle(metrics(latency_p95_s=1.0), T0)
    assert core.digests.books == {}
    assert core.tick(T0 + timedelta(days=2)) == []
