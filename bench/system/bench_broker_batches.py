"""Broker CPU for a paced stream (5k msgs/s of ~450 B, 6 partitions, 40 keys, 20 s), by producer ``linger.ms``,
consumer ``fetch.min.bytes`` / ``fetch.wait.max.ms`` and the number of consumer groups reading it.

    uv run python bench/system/bench_broker_batches.py LINGER_MS MIN_BYTES WAIT_MS GROUPS
    e.g. ... 5 1 20 6   and   ... 100 1 20 6

Starts its own tansu broker; prints the broker's CPU (user + system, % of one core) and the counts. On tansu the
cost follows the number of record batches (each produced, then fetched by every group), not the bytes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from mlmon_common.devstack import free_port, start_broker, stop_process

RATE = 5000
SECONDS = 20.0


def consume(bootstrap: str, group: str, wait_ms: int, min_bytes: int, stop: threading.Event, counts: list[int]) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "latest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": wait_ms,
            "fetch.min.bytes": min_bytes,
        }
    )
    consumer.subscribe(["t"])
    while not stop.is_set():
        counts.append(sum(1 for m in consumer.consume(500, 0.05) if m.error() is None))
    consumer.close()


def main(linger_ms: int, min_bytes: int, wait_ms: int, groups: int) -> None:
    port = free_port()
    pid, _ = start_broker(Path(tempfile.mkdtemp()), port)
    bootstrap = f"127.0.0.1:{port}"
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept referenced until the topic exists
        admin.create_topics([NewTopic("t", 6, 1)])["t"].result()
        stop = threading.Event()
        counts: list[list[int]] = [[] for _ in range(groups)]
        threads = [
            threading.Thread(target=consume, args=(bootstrap, f"g{i}", wait_ms, min_bytes, stop, counts[i]))
            for i in range(groups)
        ]
        for t in threads:
            t.start()
        time.sleep(8)  # every group joined
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": linger_ms,
                "enable.idempotence": True,
                "compression.type": "lz4",
                "acks": "all",
            }
        )
        value = b"x" * 300 + os.urandom(75).hex().encode()
        broker = psutil.Process(pid)
        cpu0, t0, n = sum(broker.cpu_times()[:2]), time.monotonic(), 0
        while (elapsed := time.monotonic() - t0) < SECONDS:
            while n < elapsed * RATE:
                producer.produce("t", value, str(n % 40).encode())
                n += 1
            producer.poll(0)
            time.sleep(0.002)
        producer.flush(10)
        cpu = sum(broker.cpu_times()[:2]) - cpu0
        wall = time.monotonic() - t0
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        consumed = [sum(c) for c in counts]
        print(
            f"linger.ms={linger_ms} fetch.min.bytes={min_bytes} fetch.wait.max.ms={wait_ms} groups={groups}: "
            f"broker {100 * cpu / wall:.0f}% of a core; produced {n}, consumed per group {consumed}"
        )
    finally:
        stop_process(pid)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*(int(a) for a in sys.argv[1:]))
