"""Query latency of ``PerformanceMonitor.monitor_metrics`` for 50 models (24 h and 7 d), and store size.

Runs the pure path the service runs after its Redis round trip (chunk decode, bucket filtering, column
arrays, summaries, thresholds) over the in-memory store, which holds exactly the Redis hash layout.
Redis network time is not included: the lead's integration benchmark adds it.

    uv run python bench/reporting/bench_query.py [--models 50] [--series 12]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from mlmon_reporting.memory_store import InMemorySeriesStore
from mlmon_reporting.monitor import PerformanceMonitor
from mlmon_reporting.timeseries import RAW, ROLLUP, Agg, raw_key, ttl_s

SERIES = (
    "accuracy",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "error_rate",
    "throughput_per_s",
    "count",
    "resource.cpu_percent",
    "resource.memory_percent",
    "resource.disk_percent",
    "data_drift",
    "model_drift",
)
NOW = datetime(2026, 1, 8, tzinfo=UTC)


def populate(store: InMemorySeriesStore, models: int, series: int) -> None:
    """48 h of 1-min buckets and 90 d of 1-h rollups per series, written in the Redis layout."""
    end = int(NOW.timestamp())
    for m in range(models):
        model = f"model-{m:03d}"
        for name in SERIES[:series]:
            store._series[model][name] = float(end)
            for res, n in ((RAW, 48 * 60), (ROLLUP, 90 * 24)):
                count = 1 if res is RAW else 60
                for i in range(n):
                    ts = end - (i + 1) * res.step_s
                    v = 0.9 + (i % 7) / 100
                    key = raw_key(model, name, res, ts)
                    store.hashes[key][str(ts)] = Agg(count, v * count, v, v, v, float(ts), 0).encode(ts)
                    store.expiry[key] = ts + ttl_s(res)


def measure(monitor: PerformanceMonitor, models: int, timeframe: str) -> list[float]:
    out = []
    for m in range(models):
        t0 = time.perf_counter()
        monitor.monitor_metrics(f"model-{m:03d}", timeframe)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--series", type=int, default=len(SERIES))
    args = parser.parse_args()
    store = InMemorySeriesStore()
    t0 = time.perf_counter()
    populate(store, args.models, args.series)
    print(f"populated {args.models} models x {args.series} series in {time.perf_counter() - t0:.1f} s")
    monitor = PerformanceMonitor(store, clock=lambda: NOW)
    for timeframe in ("24h", "7d"):
        measure(monitor, 5, timeframe)  # warm-up
        ms = sorted(measure(monitor, args.models, timeframe))
        p95 = ms[int(0.95 * (len(ms) - 1))]
        print(f"monitor_metrics {timeframe}: p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    one = InMemorySeriesStore()
    populate(one, 1, args.series)
    raw = sum(len(k) + sum(len(f) + len(v) for f, v in h.items()) for k, h in one.hashes.items() if ":1m:" in k)
    roll = one.memory_bytes() - raw
    keys = len(one.hashes)
    print(
        f"payload per model ({args.series} series): raw 48 h {raw / 1024:.0f} KiB, rollups 90 d {roll / 1024:.0f} KiB, "
        f"{keys} keys; per model-day written: {(raw / 2 + roll / 90) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
