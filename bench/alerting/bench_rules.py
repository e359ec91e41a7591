"""Rule evaluation throughput over pre-built MetricsEvent / DriftEvent / ResourceEvent objects.

Run: ``uv run python bench/alerting/bench_rules.py [--events 200000] [--models 200]``.
Measures (1) ``AlertManager.evaluate`` (every rule, breached or not: what the service runs),
(2) ``check_thresholds`` (breaches only), (3) the whole pure core ``AlertingCore.handle``
(rules + lifecycle + routing/grouping) with an injected clock. Target: >= 20k events/s/process.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from mlmon_alerting.config import parse_config
from mlmon_alerting.pipeline import AlertingCore
from mlmon_alerting.rules import AlertManager
from mlmon_common.events import DriftEvent, Envelope, MetricsEvent, ResourceEvent

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CONFIG = "route: {receiver: ops, group_wait: 0s}\nreceivers: [{name: ops}]\nresolve_timeout: 1d\n"


def make_events(n: int, models: int, seed: int = 7) -> list[Envelope]:
    """60% metrics, 25% drift, 15% resources; ~10% of values breach a threshold."""
    rng = random.Random(seed)
    out: list[Envelope] = []
    for i in range(n):
        model = f"model-{i % models}"
        at = T0 + timedelta(seconds=i)
        bad = rng.random() < 0.1
        r = rng.random()
        if r < 0.6:
            values = {
                "accuracy": 0.9 if bad else 0.97,
                "latency_p95_s": rng.uniform(0.01, 0.3 if bad else 0.19),
                "error_rate": rng.uniform(0, 0.04),
                "count": 100.0,
            }
            out.append(MetricsEvent(model_id=model, occurred_at=at, window_start=at, window_end=at, values=values))
        elif r < 0.85:
            kind = "data" if rng.random() < 0.5 else "model"
            score = rng.uniform(0.2, 0.5) if bad else rng.uniform(0, 0.05)
            out.append(DriftEvent(model_id=model, occurred_at=at, kind=kind, state="snapshot", detector="psi",
                                  score=score))  # fmt: skip
        else:
            out.append(ResourceEvent(model_id=model, occurred_at=at, service="serving", host=f"h{i % 20}",
                                     cpu_percent=95 if bad else 40, memory_percent=50, disk_percent=60))  # fmt: skip
    return out


def measure(name: str, fn: Callable[[Envelope], object], events: Sequence[Envelope], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for ev in events:
            fn(ev)
        best = min(best, time.perf_counter() - start)
    rate = len(events) / best
    print(f"{name:<34} {len(events):>8} events  best of {repeat}: {best:7.3f} s  {rate:>10,.0f} events/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.processor() or 'cpu'})")
    events = make_events(args.events, args.models)
    manager = AlertManager()
    measure("AlertManager.evaluate", manager.evaluate, events, args.repeat)  # type: ignore[arg-type]
    measure("AlertManager.check_thresholds", manager.check_thresholds, events, args.repeat)  # type: ignore[arg-type]
    core = AlertingCore(parse_config(CONFIG))
    clock = iter(T0 + timedelta(milliseconds=i) for i in range(args.events * args.repeat + 1))
    measure("AlertingCore.handle (full core)", lambda ev: core.handle(ev, next(clock)), events, args.repeat)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
