"""Collector raw -> canonical throughput on the real broker and Redis, and the join's Redis bytes per pending
prediction.

What one worker process runs is the service's own code path: a ``ConsumerRunner`` with the service's
decoder (``decode_raw``) and batch size on the raw prediction and label topics with ``CanonicalStage.handle``
(decode, registry check, canonical publish, the Redis join that stores every prediction as pending, offsets
stored after the broker acknowledged). Input: N 454-byte predictions (8 features) of 12 models spread over
the 6 partitions, produced before the workers start. Rate = N / (time the last event was handled - time the
first batch arrived), per run; median over rounds. Each run also prints CPU per event of the workers (all
threads), of Redis (``INFO cpu``) and of the broker this benchmark started; ``BENCH_THREADS=1`` adds each
worker thread's on-CPU and waiting-for-a-CPU time (``/proc/self/task/*/schedstat``).

usage: uv run python bench/collector/bench_collector.py [--events N] [--rounds R] [--workers 1 2] [--batch-size B]
       (MLMON_KAFKA_BOOTSTRAP / MLMON_REDIS_URL to use running servers; else local ones are started)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
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

import psutil
import redis
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _stack import FEATURES, kafka_for_bench, machine

from mlmon_collector.app import tune_gc
from mlmon_collector.canonical import CanonicalStage, RawPrediction, decode_raw
from mlmon_collector.joiner_store import JoinItem, JoinResult, JoinStore
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.registry import FeatureSpec, ModelEntry
from mlmon_collector.settings import CollectorOptions
from mlmon_common import topics
from mlmon_common.devstack import free_port, start_redis, stop_process
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import drop_keys, unique

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


def worker(
    kafka: KafkaSettings, redis_url: str, prefix: str, done_key: str, total: int, join: bool, batch_size: int
) -> None:
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

    first = True

    def handle(items: Sequence[Item]) -> list[Rejected] | None:
        nonlocal first
        if first:
            client.setnx(done_key + ":first", repr(time.time()))
            first = False
        rejected = stage.handle(items)
        client.incrby(done_key, len(items))
        return rejected

    runner = ConsumerRunner(
        kafka,
        service="bench-collector",
        topics=[topics.RAW_PREDICTIONS, topics.RAW_LABELS],
        handler=handle,
        producer=producer,
        batch_size=batch_size,
        decode=decode_raw,  # what the service passes for the raw topics
    )
    if not os.environ.get("BENCH_DEFAULT_GC"):  # what ``python -m mlmon_collector`` does once built
        tune_gc()
    cpu0 = time.process_time()
    thread = threading.Thread(target=runner.run)
    thread.start()
    deadline = time.monotonic() + 600
    while int(client.get(done_key) or 0) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    cpu = time.process_time() - cpu0
    if os.environ.get("BENCH_THREADS"):
        _thread_cpu(total, time.time() - float(client.get(done_key + ":first") or 0))
    runner.stop()
    thread.join(30)
    client.incrbyfloat(done_key + ":cpu", cpu)


def _broker_cpu() -> float:
    """CPU seconds of the broker this benchmark started (0 when it uses a running one)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name().startswith("tansu"):
                times = child.cpu_times()
                total += times.user + times.system
    return total


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _thread_cpu(total: int, wall_s: float) -> None:
    """Per thread of this process (Linux /proc ``schedstat``): on-CPU and runnable-but-waiting-for-a-CPU time,
    in us per event, over the whole process life; and the run's wall time per event."""
    rows = []
    for task in Path("/proc/self/task").iterdir():
        name = (task / "comm").read_text().strip()
        on_cpu, runqueue, _ = (int(x) for x in (task / "schedstat").read_text().split())
        if on_cpu > total * 1000 // 10:  # > 0.1 us/event
            rows.append(f"{name}[{task.name}] cpu={on_cpu / total / 1e3:.1f} runqueue={runqueue / total / 1e3:.1f}")
    sys.stderr.write(f"wall {wall_s / total * 1e6:.1f} us/event; threads: " + ", ".join(rows) + "\n")


def one_round(
    kafka_base: KafkaSettings, redis_url: str, n: int, workers: int, join: bool, batch_size: int
) -> tuple[float, int, str]:
    kafka = kafka_base.model_copy(update={"topic_suffix": unique(""), "group_prefix": unique("bench")})
    from mlmon_common.kafka import ensure_topics

    ensure_topics(kafka, topics.ALL)
    size = produce(kafka, n)
    prefix = unique("bench:") + ":"
    done_key = prefix + "done"
    client = redis.Redis.from_url(redis_url)
    spec = json.dumps(
        {"kafka": kafka.model_dump(mode="json"), "redis": redis_url, "prefix": prefix, "n": n, "join": join}
        | {"batch_size": batch_size}
    )
    client.config_resetstat()
    redis_cpu0, broker_cpu0 = _redis_cpu(client), _broker_cpu()
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", spec]) for _ in range(workers)]
    deadline = time.monotonic() + 600
    while int(client.get(done_key) or 0) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"handled {client.get(done_key)} of {n}")
        time.sleep(0.005)
    end = time.time()
    redis_cpu, broker_cpu = _redis_cpu(client) - redis_cpu0, _broker_cpu() - broker_cpu0
    first = float(client.get(done_key + ":first") or end)
    for p in procs:
        p.wait(60)
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    cpu = float(client.get(done_key + ":cpu") or 0)
    detail = (
        f"worker CPU {cpu / n * 1e6:.1f} us/event, Redis CPU {redis_cpu / n * 1e6:.1f} us/event"
        f" (join script {float(stats.get('usec', 0)) / n:.1f}), broker CPU {broker_cpu / n * 1e6:.1f} us/event"
    )
    drop_keys(client, prefix)
    return n / (end - first), size, detail


def memory_per_pending(redis_url: str, n: int = 50_000) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    prefix = unique("benchmem:") + ":"
    join = JoinStore(client, prefix, ttl_s=3600, max_pending=10 * n)
    raws = [template(MODELS[i % 12]).replace(b"p-000000000", f"p-{i:09d}".encode()) for i in range(n)]
    decoded = [decode_raw(raw) for raw in raws]
    assert all(isinstance(d, RawPrediction) for d in decoded)  # what the service stores: the raw bytes
    items: list[JoinItem] = [(d.event, f"t:0:{i}", d.pending()) for i, d in enumerate(decoded)]  # type: ignore[union-attr]
    before = int(client.info("memory")["used_memory"])
    for i in range(0, n, 1000):
        join.process(items[i : i + 1000], lambda _m: "classification")
    after = int(client.info("memory")["used_memory"])
    sample = [join.base.encode() + m for m in client.zrange(join.base + "pending", 0, 999)]
    per_key = statistics.mean(int(client.memory_usage(k, samples=0) or 0) for k in sample)
    per_index = int(client.memory_usage(join.base + "pending", samples=0) or 0) / n
    value_len = statistics.mean(len(client.get(k) or b"") for k in sample[:100])
    keys = list(client.scan_iter(match=prefix + "*", count=10_000))
    for i in range(0, len(keys), 10_000):
        client.delete(*keys[i : i + 10_000])
    return {
        "event_json_bytes": float(len(raws[0])),
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
    parser.add_argument("--batch-size", type=int, default=CollectorOptions().batch_size, help="records per batch")
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
            spec["batch_size"],
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
            rate, size, detail = one_round(kafka, redis_url, args.events, workers, not args.no_join, args.batch_size)
            rates.append(rate)
            line = f"workers={workers} round={r + 1}: {rate:,.0f} events/s ({size}-byte events, {join}); {detail}"
            print(f"{line}; load {os.getloadavg()[0]:.2f}", flush=True)
        print(f"workers={workers} {join}: median {statistics.median(rates):,.0f} events/s, best {max(rates):,.0f}")


if __name__ == "__main__":
    main()
