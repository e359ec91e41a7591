"""Throughput of the collector's pure core on ~450-byte prediction events (one process, one core).

Stages timed separately, then together:
  decode    PredictionEvent.model_validate_json(raw)
  enrich    ModelRegistry.enrich (schema check -> data_quality)
  windows   MetricsWindows.add_prediction (+ close_due once per simulated second)
  outcomes  join.make_outcome + MetricsWindows.add_outcome
  encode    canonical event .to_json()
  pipeline  decode + enrich + windows + encode per event (the raw -> canonical hot path, no Kafka)

Run: cd /work/main && UV_PYTHON_DOWNLOADS=never uv run python bench/collector/bench_pure.py [--events N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mlmon_collector.join import make_outcome
from mlmon_collector.registry import ModelRegistry
from mlmon_collector.scenario import default_scenario
from mlmon_collector.simulate import simulate
from mlmon_collector.windows import MetricsWindows
from mlmon_common.events import LabelEvent, PredictionEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_events(n: int) -> tuple[list[bytes], list[PredictionEvent], list[LabelEvent], ModelRegistry]:
    per_model_rate = 1000.0
    scenario = default_scenario(start=T0, duration_s=n / (3 * per_model_rate) + 1)
    scenario = scenario.model_copy(
        update={"models": [m.model_copy(update={"rate_per_s": per_model_rate}) for m in scenario.models]}
    )
    registry = ModelRegistry(m.registry_entry() for m in scenario.models)
    preds: list[PredictionEvent] = []
    labels: list[LabelEvent] = []
    for _, ev in simulate(scenario):
        if isinstance(ev, PredictionEvent):
            if len(preds) < n:
                preds.append(ev.model_copy(update={"host": "model-server-7f9c", "tags": {"region": "eu-west-1"}}))
        else:
            labels.append(ev)
    raws = [p.to_json() for p in preds]
    return raws, preds, labels, registry


def timed(label: str, n: int, fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    best = min(runs)
    print(f"{label:<10} {n / best:>12,.0f} events/s   (best of {repeat}: {best * 1e6 / n:6.2f} us/event, "
          f"median {statistics.median(runs):.3f} s)")  # fmt: skip
    return n / best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    raws, preds, labels, registry = make_events(args.events)
    n = len(raws)
    print(f"python {platform.python_version()} on {platform.machine()}, {n} events, "
          f"mean size {sum(map(len, raws)) / n:.0f} bytes, {len(labels)} labels")  # fmt: skip
    by_id = {p.prediction_id: p for p in preds}
    pairs = [(by_id[lb.prediction_id], lb) for lb in labels if lb.prediction_id in by_id]

    def windowed(events: list[PredictionEvent]) -> MetricsWindows:
        w = MetricsWindows(window_s=60, allowed_lateness_s=3600, registry=registry)
        next_close = T0
        for ev in events:
            w.add_prediction(ev)
            if ev.occurred_at >= next_close:
                w.close_due(ev.occurred_at)
                next_close = ev.occurred_at + timedelta(seconds=1)
        return w

    def outcomes() -> None:
        w = MetricsWindows(window_s=60, allowed_lateness_s=3600, registry=registry)
        for pred, lb in pairs:
            w.add_outcome(make_outcome(pred, lb, "classification" if pred.model_id != "eta" else "regression"))

    def pipeline() -> None:
        w = MetricsWindows(window_s=60, allowed_lateness_s=3600, registry=registry)
        for raw in raws:
            ev = registry.enrich(PredictionEvent.model_validate_json(raw))
            w.add_prediction(ev)
            ev.to_json()
        w.close_due(T0 + timedelta(days=1))

    def each(fn: Callable[[object], object], items: list) -> Callable[[], None]:  # type: ignore[type-arg]
        def loop() -> None:  # results are dropped, as in the service (no GC pressure from keeping them)
            for item in items:
                fn(item)

        return loop

    timed("decode", n, each(PredictionEvent.model_validate_json, raws), args.repeat)  # type: ignore[arg-type]
    timed("enrich", n, each(registry.enrich, preds), args.repeat)  # type: ignore[arg-type]
    timed("windows", n, lambda: windowed(preds), args.repeat)
    timed("outcomes", len(pairs), outcomes, args.repeat)
    timed("encode", n, each(PredictionEvent.to_json, preds), args.repeat)  # type: ignore[arg-type]
    timed("pipeline", n, pipeline, args.repeat)


if __name__ == "__main__":
    main()
