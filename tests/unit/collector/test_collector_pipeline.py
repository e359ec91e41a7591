"""The pure collector chain on the simulated fleet: registry -> join -> windows, checked against
metrics recomputed here from the raw events with plain arithmetic."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from mlmon_collector.join import make_outcome
from mlmon_collector.registry import ModelRegistry
from mlmon_collector.scenario import default_scenario
from mlmon_collector.simulate import simulate
from mlmon_collector.windows import MetricsWindows
from mlmon_common import metric_names as mn
from mlmon_common.events import LabelEvent, MetricsEvent, PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCENARIO = default_scenario(start=T0, duration_s=180)
REGISTRY = ModelRegistry(m.registry_entry() for m in SCENARIO.models)


def _run_pipeline() -> tuple[list[PredictionEvent], dict[str, LabelEvent], list[MetricsEvent]]:
    windows = MetricsWindows(window_s=60, allowed_lateness_s=100_000, registry=REGISTRY)
    pending: dict[str, PredictionEvent] = {}
    predictions: list[PredictionEvent] = []
    first_label: dict[str, LabelEvent] = {}
    emitted: list[MetricsEvent] = []
    for due, ev in simulate(SCENARIO):
        if isinstance(ev, PredictionEvent):
            canonical = REGISTRY.enrich(ev)
            assert canonical.data_quality is not None
            assert canonical.data_quality.violations == 0
            predictions.append(canonical)
            pending[ev.prediction_id] = canonical
            windows.add_prediction(canonical)
        elif ev.prediction_id in pending:  # first label wins; duplicates are ignored by the join
            entry = REGISTRY.get(ev.model_id)
            assert entry is not None
            first_label[ev.prediction_id] = ev
            windows.add_outcome(make_outcome(pending.pop(ev.prediction_id), ev, entry.task))
        emitted += windows.close_due(due)
    emitted += windows.close_due(T0 + timedelta(days=30))
    return predictions, first_label, emitted


def test_final_revisions_match_independent_computation() -> None:
    predictions, labels, emitted = _run_pipeline()
    final: dict[tuple[str, datetime], MetricsEvent] = {}
    for ev in emitted:
        key = (ev.model_id, ev.window_start)
        assert key not in final or final[key].revision == ev.revision - 1  # revisions in order, no gaps
        final[key] = ev
    assert len(final) == 9  # 3 models x 3 windows
    assert any(ev.revision > 0 for ev in emitted)  # late labels re-emitted windows
    groups: dict[tuple[str, datetime], list[PredictionEvent]] = defaultdict(list)
    for p in predictions:
        start = T0 + timedelta(seconds=60 * math.floor((p.occurred_at - T0).total_seconds() / 60))
        groups[(p.model_id, start)].append(p)
    for key, preds in groups.items():
        _check_window(final[key].values, preds, labels, classification=key[0] != "eta")


def _check_window(
    values: dict[str, float], preds: list[PredictionEvent], labels: dict[str, LabelEvent], classification: bool
) -> None:
    labelled = [p for p in preds if p.prediction_id in labels]
    scored = [(p.prediction, labels[p.prediction_id].label) for p in labelled if p.prediction is not None]
    assert values[mn.COUNT] == len(preds)
    assert values[mn.ERROR_COUNT] == sum(p.error is not None for p in preds)
    assert values[mn.LABELLED_COUNT] == len(labelled)
    assert values[mn.THROUGHPUT_PER_S] == pytest.approx(len(preds) / 60)
    lat = [p.latency_ms / 1000 for p in preds if p.latency_ms is not None]
    assert values[mn.LATENCY_P50_S] == pytest.approx(statistics.median(lat))
    if classification:
        tp = sum(p == 1 and y == 1 for p, y in scored)
        assert values[mn.ACCURACY] == pytest.approx(sum(p == y for p, y in scored) / len(scored))
        assert values[mn.PRECISION] == pytest.approx(tp / sum(p == 1 for p, _ in scored))
        assert values[mn.RECALL] == pytest.approx(tp / sum(y == 1 for _, y in scored))
    else:
        errors = [abs(float(p) - float(y)) for p, y in scored]
        assert values[mn.MAE] == pytest.approx(sum(errors) / len(errors))
        assert values[mn.RMSE] == pytest.approx(math.sqrt(sum(e * e for e in errors) / len(errors)))


def test_default_incidents_show_up_in_the_windows() -> None:
    windows = MetricsWindows(window_s=60, allowed_lateness_s=0, registry=REGISTRY)
    for _, ev in simulate(default_scenario(start=T0, duration_s=420)):
        if isinstance(ev, PredictionEvent):
            windows.add_prediction(ev)
    by_window = {
        (e.model_id, int((e.window_start - T0).total_seconds())): e.values
        for e in windows.close_due(T0 + timedelta(seconds=420))
    }
    # eta: latency spike (x10) from 300 s to 420 s, error burst (30 %) from 360 s to 400 s
    assert by_window[("eta", 300)][mn.LATENCY_P50_S] > 5 * by_window[("eta", 0)][mn.LATENCY_P50_S]
    assert by_window[("eta", 360)][mn.ERROR_RATE] > 0.1 > by_window[("eta", 240)][mn.ERROR_RATE]
    # churn stays healthy
    assert by_window[("churn", 300)][mn.LATENCY_P50_S] < 2 * by_window[("churn", 0)][mn.LATENCY_P50_S]
