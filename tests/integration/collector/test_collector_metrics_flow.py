"""Windowed metrics on the real broker and Redis: a scripted stream (two models, two windows, late labels)
gives metrics events whose final revisions equal values computed here by plain arithmetic; a restart
with the checkpoint in Redis replays the canonical stream without counting anything twice."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mlmon_collector.business import ValueModel
from mlmon_collector.config import CollectorConfig
from mlmon_collector.registry import FeatureSpec, ModelEntry
from mlmon_common import metric_names as mn, topics
from mlmon_common.events import Envelope, LabelEvent, MetricsEvent, PredictionEvent
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import unique, wait_for

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
VALUE = ValueModel(gain_per_tp=10, cost_per_fp=2, cost_per_fn=5, baseline_value_per_prediction=1)
CONFIG = CollectorConfig(
    window_s=60,
    models=[
        ModelEntry(
            model_id="clf",
            task="classification",
            positive_label=1,
            features=[FeatureSpec(name="x", type="number")],
            value_model=VALUE,
        ),
        ModelEntry(model_id="reg", task="regression", features=[FeatureSpec(name="x", type="number")]),
    ],
)
# (model, second, prediction or None for a failed call, latency ms, label or None)
CLF = [
    (0, 1, 12, 1), (5, 0, 15, 0), (9, 1, 22, 0), (14, 1, 9, 1), (20, None, 30, None), (26, 0, 11, 1),
    (31, 1, 18, 1), (38, 0, 14, None), (44, 1, 40, 1), (52, 0, 13, 0),
    (61, 1, 12, 1), (70, 0, 21, 0), (83, 1, 17, 0), (99, 1, 25, None),
]  # fmt: skip
REG = [(3, 10.5, 30, 12.0), (17, 8.0, 25, 8.5), (40, 3.25, 28, None), (65, 7.0, 31, 4.0), (80, 2.0, 22, 2.5)]


def _events() -> tuple[list[PredictionEvent], list[LabelEvent]]:
    preds, labels = [], []
    for model_id, rows in (("clf", CLF), ("reg", REG)):
        for i, (sec, prediction, latency, label) in enumerate(rows):
            pid = f"{model_id}-{i}"
            preds.append(
                PredictionEvent(
                    model_id=model_id,
                    prediction_id=pid,
                    features={"x": float(i)},
                    prediction=prediction,
                    error="boom" if prediction is None else None,
                    latency_ms=latency,
                    occurred_at=T0 + timedelta(seconds=sec),
                )
            )
            if label is not None:
                labels.append(LabelEvent(model_id=model_id, prediction_id=pid, label=label, occurred_at=T0))
    return preds, labels


def _quantile(values: list[float], q: float) -> float:
    """numpy's default (linear) percentile, by hand."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def expected(model_id: str, start_s: int) -> dict[str, float]:
    rows = [r for r in (CLF if model_id == "clf" else REG) if start_s <= r[0] < start_s + 60]
    lat = [r[2] / 1000 for r in rows]
    labelled = [r for r in rows if r[3] is not None]
    scored = [(r[1], r[3]) for r in labelled if r[1] is not None]
    errors = sum(r[1] is None for r in rows)
    out = {
        mn.COUNT: len(rows),
        mn.ERROR_COUNT: errors,
        mn.ERROR_RATE: errors / len(rows),
        mn.LABELLED_COUNT: len(labelled),
        mn.LABEL_COVERAGE: len(labelled) / len(rows),
        mn.THROUGHPUT_PER_S: len(rows) / 60,
        mn.LATENCY_P50_S: statistics.median(lat),
        mn.LATENCY_P95_S: _quantile(lat, 0.95),
        mn.LATENCY_P99_S: _quantile(lat, 0.99),
        mn.LATENCY_MEAN_S: sum(lat) / len(lat),
    }
    if model_id == "reg":
        err = [abs(p - y) for p, y in scored]
        out[mn.MAE] = sum(err) / len(err)
        out[mn.RMSE] = math.sqrt(sum(e * e for e in err) / len(err))
        return out
    tp = sum(p == 1 and y == 1 for p, y in scored)
    fp = sum(p == 1 and y == 0 for p, y in scored)
    fn = sum(p == 0 and y == 1 for p, y in scored)
    tn = sum(p == 0 and y == 0 for p, y in scored)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    value = 10 * tp - 2 * fp - 5 * fn
    out |= {
        mn.ACCURACY: (tp + tn) / len(scored),
        mn.PRECISION: precision,
        mn.RECALL: recall,
        mn.F1: 2 * precision * recall / (precision + recall),
        mn.MODEL_VALUE: value,
        mn.BASELINE_VALUE: len(scored),
        mn.COST_SAVINGS: value - len(scored),
    }
    return out


def _final(events: list[Any]) -> dict[tuple[str, int], MetricsEvent]:
    final: dict[tuple[str, int], MetricsEvent] = {}
    for ev in events:
        key = (ev.model_id, int((ev.window_start - T0).total_seconds()))
        if key not in final or ev.revision > final[key].revision:
            final[key] = ev
    return final


def _settled(follower: Any, want: dict[tuple[str, int], tuple[float, float]]) -> dict[tuple[str, int], MetricsEvent]:
    """Metrics of every wanted window with the wanted (count, labelled_count), once they arrived."""
    final = _final(follower.poll())
    got = {k: (v.values[mn.COUNT], v.values[mn.LABELLED_COUNT]) for k, v in final.items() if k in want}
    return final if got == want else {}


def test_scripted_stream_metrics_match_independent_values_and_survive_a_restart(
    kafka: KafkaSettings,
    start_collector: Any,
    send: Callable[[str, Envelope], None],
    follow: Callable[[str], Any],
) -> None:
    preds, labels = _events()
    for p in preds:
        send(topics.RAW_PREDICTIONS.name, p)
    for lab in labels:
        send(topics.RAW_LABELS.name, lab)
    # watermark: one prediction per model at +130 s closes both windows
    for model_id in ("clf", "reg"):
        tick = PredictionEvent(
            model_id=model_id, prediction_id=f"{model_id}-tick", prediction=1, occurred_at=T0 + timedelta(seconds=130)
        )
        send(topics.RAW_PREDICTIONS.name, tick)
    want = {
        (m, s): (float(expected(m, s)[mn.COUNT]), float(expected(m, s)[mn.LABELLED_COUNT]))
        for m in ("clf", "reg")
        for s in (0, 60)
    }
    metrics = follow(topics.METRICS.name)
    with start_collector(CONFIG, max_out_of_order_s=0) as svc:
        final = wait_for(lambda: _settled(metrics, want), 50, "final revisions of 4 windows")
        assert svc.app.state.metrics.counters.skipped_replayed == 0
    for (model_id, start), ev in final.items():
        if (model_id, start) not in want:
            continue
        assert ev.task == ("classification" if model_id == "clf" else "regression")
        assert ev.window_end - ev.window_start == timedelta(seconds=60)
        exp = expected(model_id, start)
        assert set(exp) <= set(ev.values), sorted(set(exp) - set(ev.values))
        for name, value in exp.items():
            assert ev.values[name] == pytest.approx(value), (model_id, start, name)
    revisions = [e.revision for e in metrics.events if e.model_id == "clf" and e.window_start == T0]
    assert revisions == sorted(set(revisions))

    # Restart: a fresh metrics consumer group reads the canonical stream from the start; the checkpoint's
    # offsets make it skip everything already counted. A late prediction then amends window 60 by one.
    late = PredictionEvent(model_id="clf", prediction_id="clf-late", prediction=1, latency_ms=20,
                           occurred_at=T0 + timedelta(seconds=90))  # fmt: skip
    send(topics.PREDICTIONS.name, late)
    restarted = kafka.model_copy(update={"group_prefix": unique("restart")})
    before = len(metrics.events)
    with start_collector(CONFIG, kafka_settings=restarted, max_out_of_order_s=0, canonical_enabled=False) as svc:
        w60 = T0 + timedelta(seconds=60)
        amended = wait_for(
            lambda: [e for e in metrics.poll()[before:] if e.model_id == "clf" and e.window_start == w60],
            50,
            "window 60 re-emitted after the late prediction",
        )
        counters = svc.app.state.metrics.counters
        assert counters.skipped_replayed >= len(preds) + 2 + len(labels)
        assert counters.applied == 1
    clf60 = amended[-1]
    assert clf60.revision == final[("clf", 60)].revision + 1
    assert clf60.values[mn.COUNT] == want[("clf", 60)][0] + 1
    assert clf60.values[mn.LABELLED_COUNT] == want[("clf", 60)][1]
    assert all(e.window_start == T0 + timedelta(seconds=60) for e in metrics.events[before:])


def test_quiet_model_windows_close_on_the_wall_clock(
    start_collector: Any, send: Callable[[str, Envelope], None], follow: Callable[[str], Any]
) -> None:
    """No later event moves the watermark: the idle rule (now - idle_s) closes the window anyway."""
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=2)
    for i in range(3):
        ev = PredictionEvent(model_id="quiet", prediction_id=f"q{i}", prediction=1, latency_ms=5,
                             occurred_at=start + timedelta(seconds=10 * i))  # fmt: skip
        send(topics.PREDICTIONS.name, ev)
    metrics = follow(topics.METRICS.name)
    with start_collector(CONFIG, canonical_enabled=False, idle_s=1, max_out_of_order_s=3600):
        got = wait_for(lambda: [e for e in metrics.poll() if e.model_id == "quiet"], 30, "the idle window closed")
    assert got[0].window_start == start
    assert got[0].values[mn.COUNT] == 3
    assert got[0].task == "unknown"
