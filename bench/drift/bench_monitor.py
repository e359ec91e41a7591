"""ModelMonitor throughput (14 features per event), window-test cost, memory per monitored feature.

Stages (one process, one core, after the 1,000-event reference is built):
  observe    ModelMonitor.observe(features, prediction, score, at=...)  - the domain hot path
  update     ModelMonitor.update(PredictionEvent)                      - with a decoded event
  decode+upd PredictionEvent.model_validate_json(raw) + update          - worker path without Kafka
  window     one window close (KS, |z| KS, mean test on short + long window, chi-square, BH, CUSUM)
  memory     tracemalloc of 50 monitors after their reference is built, per monitored feature
  checkpoint to_state() JSON size per model, and to_state + json.dumps time
Times are process CPU time (time.process_time), medians of --rounds rounds.

Run: cd /work/main && UV_PYTHON_DOWNLOADS=never uv run python bench/drift/bench_monitor.py [--events N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from mlmon_common.events import PredictionEvent
from mlmon_drift.config import DriftConfig
from mlmon_drift.monitor import ModelMonitor
from mlmon_drift.scenarios import generate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REF = 1000
#: CPU time of this process: the 2-core bench machine is shared, wall time would measure the neighbours.
CLOCK = time.process_time


def stream(n: int) -> tuple[list[dict[str, object]], list[float], list[datetime]]:
    s = generate("control", seed=7, length=n, change_at=None)
    return s.rows, s.scores, [T0 + timedelta(seconds=i) for i in range(n)]


def warm(rows: list[dict[str, object]], scores: list[float], ats: list[datetime]) -> ModelMonitor:
    mon = ModelMonitor("bench", DriftConfig())
    for i in range(REF):
        mon.observe(rows[i], scores[i] > 0.5, scores[i], at=ats[i])
    return mon


def bench_observe(n: int) -> float:
    rows, scores, ats = stream(n + REF)
    mon = warm(rows, scores, ats)
    started = CLOCK()
    for i in range(REF, n + REF):
        mon.observe(rows[i], scores[i] > 0.5, scores[i], at=ats[i])
    return n / (CLOCK() - started)


def _events(n: int) -> tuple[ModelMonitor, list[PredictionEvent]]:
    rows, scores, ats = stream(n + REF)
    mon = warm(rows, scores, ats)
    events = [
        PredictionEvent(
            model_id="bench",
            prediction_id=f"p{i}",
            features=rows[i],  # type: ignore[arg-type]
            prediction=scores[i] > 0.5,
            score=scores[i],
            occurred_at=ats[i],
        )
        for i in range(REF, n + REF)
    ]
    return mon, events


def bench_update(n: int) -> tuple[float, float]:
    mon, events = _events(n)
    started = CLOCK()
    for ev in events:
        mon.update(ev)
    update_rate = n / (CLOCK() - started)
    mon2, _ = _events(1)
    raws = [ev.to_json() for ev in events]
    started = CLOCK()
    for raw in raws:
        mon2.update(PredictionEvent.model_validate_json(raw))
    return update_rate, n / (CLOCK() - started)


def bench_window(repeats: int = 300) -> float:
    rows, scores, ats = stream(REF + 699)
    mon = warm(rows, scores, ats)
    for i in range(REF, REF + 699):  # long window full, 99 events pending
        mon.observe(rows[i], scores[i] > 0.5, scores[i], at=ats[i])
    pending = [*mon.pending, mon.pending[-1]]
    spent = 0.0
    for _ in range(repeats):
        mon.pending = list(pending)
        started = CLOCK()
        mon._close_window(T0)
        spent += CLOCK() - started
    return spent / repeats * 1e6


def bench_memory(models: int = 50) -> tuple[float, int]:
    rows, scores, ats = stream(REF + 600)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    monitors = []
    for _ in range(models):
        mon = warm(rows, scores, ats)
        for i in range(REF, REF + 600):
            mon.observe(rows[i], scores[i] > 0.5, scores[i], at=ats[i])
        monitors.append(mon)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    features = len(monitors[0].names)
    return total / models / features, features


def bench_checkpoint() -> tuple[int, int, float]:
    rows, scores, ats = stream(REF + 600)
    mon = warm(rows, scores, ats)
    for i in range(REF, REF + 600):
        mon.observe(rows[i], scores[i] > 0.5, scores[i], at=ats[i])
    started = CLOCK()
    for _ in range(20):
        blob = json.dumps(mon.to_state())
    slim = json.dumps(mon.to_state(include_reference=False))
    return len(blob), len(slim), (CLOCK() - started) / 20 * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    obs = [bench_observe(args.events) for _ in range(args.rounds)]
    print(f"observe      {statistics.median(obs):>10,.0f} events/s  (14 features + score + prediction)")
    upd = [bench_update(args.events // 2) for _ in range(args.rounds)]
    print(f"update       {statistics.median(u for u, _ in upd):>10,.0f} events/s")
    print(f"decode+upd   {statistics.median(d for _, d in upd):>10,.0f} events/s")
    w = bench_window()
    print(f"window       {w:>10,.0f} us per window of 100 events ({w / 100:.1f} us/event amortised)")
    mem, feats = bench_memory()
    print(f"memory       {mem / 1024:>10,.1f} KiB per monitored feature ({feats} per model, reference included)")
    size, slim, ms = bench_checkpoint()
    print(
        f"checkpoint   {size / 1024:>10,.1f} KiB JSON per model ({slim / 1024:.1f} KiB without the reference),"
        f" to_state+dumps {ms:.1f} ms"
    )


if __name__ == "__main__":
    main()
