"""Consumer runner rate: consume + decode (model_validate_json) + handle (no-op) + store offsets, events/s.

usage: uv run python bench/bench_runner.py [N] [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Sequence

from _stack import kafka_for_bench, machine, sample_event
from confluent_kafka import Producer

from mlmon_common import topics
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected


def one_round(n: int) -> tuple[float, int]:
    kafka = kafka_for_bench()
    topic = kafka.topic(topics.RAW_PREDICTIONS.name)
    producer = Producer(kafka.client_config() | {"linger.ms": 20, "compression.type": "lz4"})
    raw = sample_event().to_json()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, raw.replace(b"p-000000000", f"p-{i:09d}".encode()), b"bench-model")
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    seen = 0
    first: list[float] = []
    done = threading.Event()

    def handle(items: Sequence[Item]) -> list[Rejected] | None:
        nonlocal seen
        if not first:
            first.append(time.perf_counter())
        seen += len(items)
        if seen >= n:
            done.set()
        return None

    runner = ConsumerRunner(
        kafka,
        service="bench",
        topics=[topics.RAW_PREDICTIONS],
        handler=handle,
        producer=EventProducer(kafka, client_id="bench-dlq"),
        batch_size=1000,
    )
    thread = threading.Thread(target=runner.run)
    thread.start()
    assert done.wait(300), f"only {seen} of {n}"
    elapsed = time.perf_counter() - first[0]
    runner.stop()
    thread.join(30)
    return n / elapsed, len(raw)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    results = [one_round(n) for _ in range(rounds)]
    print(f"machine: {machine()}")
    print(f"ConsumerRunner, no-op handler, {n} events x {rounds} rounds, {results[0][1]}-byte events:")
    print(f"  median events/s: {statistics.median(r[0] for r in results):,.0f}")
    print(f"  per round: {[f'{r[0]:,.0f}' for r in results]}")


if __name__ == "__main__":
    main()
