"""SDK publish rate: Monitor.log_prediction calls/s (validate + serialise + enqueue) and delivered events/s.

usage: uv run python bench/bench_sdk.py [N] [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time

from _stack import FEATURES, kafka_for_bench, machine, sample_event

from mlmon_sdk import Monitor


def one_round(n: int) -> tuple[float, float, int]:
    kafka = kafka_for_bench()
    monitor = Monitor("bench-model", "v1", kafka=kafka, buffer_size=max(n, 100_000))
    t0 = time.perf_counter()
    for i in range(n):
        monitor.log_prediction(FEATURES, 1, 0.8731, 12.5, f"p-{i:09d}")
    t_enqueue = time.perf_counter() - t0
    left = monitor.flush(120)
    t_delivered = time.perf_counter() - t0
    stats = monitor.stats
    monitor.close()
    assert left == 0 and stats.delivered == n and stats.dropped == 0, stats
    return n / t_enqueue, n / t_delivered, stats.delivered


EVENT_BYTES = len(sample_event().to_json())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    results = [one_round(n) for _ in range(rounds)]
    call = statistics.median(r[0] for r in results)
    delivered = statistics.median(r[1] for r in results)
    print(f"machine: {machine()}")
    print(f"SDK log_prediction, {n} events x {rounds} rounds ({len(FEATURES)} features, {EVENT_BYTES} B):")
    print(f"  median calls/s (validate+serialise+enqueue): {call:,.0f}")
    print(f"  median delivered events/s (until broker ack): {delivered:,.0f}")
    print(f"  per round delivered/s: {[f'{r[1]:,.0f}' for r in results]}")


if __name__ == "__main__":
    main()
