"""Collector raw -> canonical throughput on the real broker and Redis, and the join's Redis bytes per pending
prediction.

What one worker process runs is the service's own code path: a ``ConsumerRunner`` on the raw prediction and
label topics with ``CanonicalStage.handle`` (decode, registry check, canonical publish, the Redis join that
stores every prediction as pending, offsets stored after the broker acknowledged). Input: N ~450-byte
predictions (14 features) of 12 models spread over the 6 partitions, produced before the workers start.
Rate = N / (time the last event was handled - time the first batch arrived), per run; median over rounds.

usage: uv run python bench/collector/bench_collector.py [--events N] [--rounds R] [--workers 1 2]
       (MLMON_KAFKA_BOOTSTRAP / MLMON_REDIS_URL to use running servers; else local ones are started)
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import redis
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _stack import FEATURES, kafka_for_bench, machine

from mlmon_collector.canonical import CanonicalStage
from mlmon_collector.joiner_store import JoinResult, JoinStore
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.registry import FeatureSpec, ModelEntry
from mlmon_common import topics
from mlmon_common.devstack import free_port, start_redis, stop_process
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import unique

MODELS = [f"bench-{i:02d}" for i in range(12)]


def _spec(name: str, value: object) -> FeatureSpec:
    """A registry entry inferred from the sample value (categories: the value and one other level)."""
    if isinstance(value, str):
        return FeatureSpec(name=name, type="category", categories=[value, "other"])
    kind = "boolean" if isinstance(value, bool) else "integer" if isinstance(value, int) else "number"
    return FeatureSpec(name=name, type=kind)  # type: ignore[arg-type]


def entries() -> list[ModelEntry]:
    specs = [_spec(n, v) for n, v in FEATURES.items()]
    return [ModelEntry(model_id=m, task="classification", positive_label=1, features=specs) for m in MODELS]


def template(model_id: str) -> bytes:
    return PredictionEvent(
        model_id=model_id,
        model_version="v1",
        prediction_id="p-000000000",
        features=FEATURES,
        prediction=1,
        score=0.8731,
        latency_ms=12.5,
    ).to_json()


def redis_for_bench() -> str:
    url = os.environ.get("MLMON_REDIS_URL")
    if url:
        return url
    run_dir = Path(tempfile.mkdtemp(prefix="mlmon-bench-redis-"))
    port = free_port()
    pid, _ = start_redis(run_dir, port, persist=False)
    atexit.register(stop_process, pid)
    return f"redis://127.0.0.1:{port}/0"


def produce(kafka: KafkaSettings, n: int) -> int:
    producer = Producer(kafka.client_config() | {"linger.ms": 20, "compression.type": "lz4"})
    topic = kafka.topic(topics.RAW_PREDICTIONS.name)
    templates = [(m.encode(), template(m)) for m in MODELS]
    for i in range(n):
        key, raw = templates[i % len(templates)]
        while True:
            try:
                producer.produce(topic, raw.replace(b"p-000000000", f"p-{i:09d}".encode()), key)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return len(templates[0][1])


# ------------------------------------------------------------------------------------------------ worker


def worker(kafka: KafkaSettings, redis_url: str, prefix: str, done_key: str, total: int, join: bool) -> None:
    client = redis.Redis.from_url(redis_url)
    producer = EventProducer(kafka, client_id="bench-canonical")
    stage = CanonicalStage(
        ModelCatalog(client, prefix, entries()),
        JoinStore(client, prefix, ttl_s=3600, max_pending=10_000_000),
        producer,
        kafka,
    )
    if not join:  # the stage without the Redis join: isolates its cost
        stage.join.process = lambda items, task_of: JoinResult()  # type: ignore[method-assign]

    def handle(items: Sequence[Item]) -> list[Rejected] | None:
        client.setnx(done_key + ":first", repr(time.time()))
        rejected = stage.handle(items)
        client.incrby(done_key, len(items))
        return rejected

    runner = ConsumerRunner(
        kafka,
        service="bench-collector",
        topics=[topics.RAW_PREDICTIONS, topics.RAW_LABELS],
        handler=handle,
        producer=producer,
        batch_size=1000,
    )
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 600
    while int(client.get(done_key) or 0) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.stop()
    thread.join(30)


def one_round(kafka_base: KafkaSettings, redis_url: str, n: int, workers: int, join: bool) -> tuple[float, int]:
    kafka = kafka_base.model_copy(update={"topic_suffix": unique(""), "group_prefix": unique("bench")})
    from mlmon_common.kafka import ensure_topics

    ensure_topics(kafka, topics.ALL)
    size = produce(kafka, n)
    prefix = unique("bench:") + ":"
    done_key = prefix + "done"
    client = redis.Redis.from_url(redis_url)
    spec = json.dumps(
        {"kafka": kafka.model_dump(mode="json"), "redis": redis_url, "prefix": prefix, "n": n, "join": join}
    )
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", spec]) for _ in range(workers)]
    deadline = time.monotonic() + 600
    while int(client.get(done_key) or 0) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"handled {client.get(done_key)} of {n}")
        time.sleep(0.005)
    end = time.time()
    first = float(client.get(done_key + ":first") or end)
    for p in procs:
        p.wait(60)
    keys = [k for k in client.scan_iter(match=prefix + "*", count=10_000)]
    for i in range(0, len(keys), 10_000):
        client.delete(*keys[i : i + 10_000])
    return n / (end - first), size


def memory_per_pending(redis_url: str, n: int = 50_000) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    prefix = unique("benchmem:") + ":"
    join = JoinStore(client, prefix, ttl_s=3600, max_pending=10 * n)
    events = [
        PredictionEvent.model_validate_json(template(MODELS[i % 12]).replace(b"p-000000000", f"p-{i:09d}".encode()))
        for i in range(n)
    ]
    before = int(client.info("memory")["used_memory"])
    for i in range(0, n, 1000):
        join.process([(e, f"t:0:{i + j}") for j, e in enumerate(events[i : i + 1000])], lambda _m: "classification")
    after = int(client.info("memory")["used_memory"])
    sample = [join.base.encode() + m for m in client.zrange(join.base + "pending", 0, 999)]
    per_key = statistics.mean(int(client.memory_usage(k, samples=0) or 0) for k in sample)
    per_index = int(client.memory_usage(join.base + "pending", samples=0) or 0) / n
    value_len = statistics.mean(len(client.get(k) or b"") for k in sample[:100])
    keys = list(client.scan_iter(match=prefix + "*", count=10_000))
    for i in range(0, len(keys), 10_000):
        client.delete(*keys[i : i + 10_000])
    return {
        "event_json_bytes": float(len(events[0].to_json())),
        "stored_value_bytes": value_len,
        "memory_usage_key": per_key,
        "memory_usage_index_per_member": per_index,
        "used_memory_delta_per_pending": (after - before) / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-join", action="store_true", help="skip the Redis join (isolates its cost)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        worker(
            KafkaSettings(**spec["kafka"]),
            spec["redis"],
            spec["prefix"],
            spec["prefix"] + "done",
            spec["n"],
            spec["join"],
        )
        return
    kafka = kafka_for_bench()
    redis_url = redis_for_bench()
    print(f"machine: {machine()}")
    if not args.skip_memory:
        mem = memory_per_pending(redis_url)
        print("join memory per pending prediction: " + ", ".join(f"{k}={v:.0f}" for k, v in mem.items()))
        ceiling = mem["memory_usage_key"] + mem["memory_usage_index_per_member"]
        print(f"  -> {ceiling:.0f} B/pending (MEMORY USAGE) = {2**30 / ceiling / 1e6:.2f}M pending per GiB")
    join = "without the join" if args.no_join else "with the join"
    for workers in args.workers:
        rates = []
        for r in range(args.rounds):
            rate, size = one_round(kafka, redis_url, args.events, workers, not args.no_join)
            rates.append(rate)
            print(f"workers={workers} round={r + 1}: {rate:,.0f} events/s ({size}-byte events, {join})", flush=True)
        print(f"workers={workers} {join}: median {statistics.median(rates):,.0f} events/s, best {max(rates):,.0f}")


if __name__ == "__main__":
    main()
