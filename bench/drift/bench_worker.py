"""End-to-end drift worker throughput through faust: pre-produced predictions (14 features each) consumed by one
``python -m mlmon_drift`` process (decode, ModelMonitor, checkpoints to Redis, offset commits).

The events are produced first, then the worker starts; the clock runs from the first processed record to the
last (``mlmon_drift_events_processed_total`` on its /metrics), so start-up and group join are excluded. The
worker's CPU time (utime + stime from /proc) is reported too, because the 2-core machine is shared.

Run: cd /work/main && UV_PYTHON_DOWNLOADS=never uv run python bench/drift/bench_worker.py [--events N] [--models M]
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from mlmon_common import topics
from mlmon_common.devstack import free_port, start_broker, start_redis, stop_process
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import EventProducer, ensure_topics, wait_for_broker
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import unique, wait_for
from mlmon_drift.scenarios import generate

logger = logging.getLogger("bench")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processed(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("mlmon_drift_events_processed_total{")
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--profile", help="run the worker under cProfile, stats to this file")
    args = parser.parse_args()
    run = Path(tempfile.mkdtemp(prefix="mlmon-bench-drift-"))
    kport, rport = free_port(), free_port()
    bpid, _ = start_broker(run, kport)
    rpid, _ = start_redis(run, rport, persist=False)
    atexit.register(stop_process, bpid)
    atexit.register(stop_process, rpid)
    kafka = KafkaSettings(bootstrap=f"127.0.0.1:{kport}", topic_suffix=unique(""), group_prefix=unique("bench"))
    wait_for_broker(kafka)
    ensure_topics(kafka, topics.ALL)

    per_model = args.events // args.models
    producer = EventProducer(kafka, client_id="bench")
    started = time.perf_counter()
    for m in range(args.models):
        s = generate("control", seed=m, length=per_model, change_at=None)
        for i, (row, score) in enumerate(zip(s.rows, s.scores, strict=True)):
            ev = PredictionEvent(
                model_id=f"model-{m}",
                prediction_id=f"{m}-{i}",
                occurred_at=T0 + timedelta(seconds=i),
                features=row,
                prediction=score > 0.5,
                score=score,
            )
            producer.send(topics.PREDICTIONS.name, ev)
    producer.close(60)
    total = per_model * args.models
    sys.stdout.write(f"produced {total} events in {time.perf_counter() - started:.1f} s\n")

    port = free_port()
    env = {
        **os.environ,
        "MLMON_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "MLMON_KAFKA_TOPIC_SUFFIX": kafka.topic_suffix,
        "MLMON_KAFKA_GROUP_PREFIX": kafka.group_prefix,
        "MLMON_REDIS_URL": f"redis://127.0.0.1:{rport}/0",
        "MLMON_HTTP_PORT": str(port),
        "MLMON_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    log = (run / "worker.log").open("wb")
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    argv = [sys.executable, *profile, "-m", "mlmon_drift"]
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    launched = time.perf_counter()
    try:
        wait_for(lambda: _safe(lambda: _processed(url) > 0), 180, "first processed record", interval_s=0.01)
        sys.stdout.write(f"first record processed {time.perf_counter() - launched:.1f} s after the launch\n")
        t0, cpu0, n0 = time.perf_counter(), _cpu_seconds(proc.pid), _processed(url)
        wait_for(lambda: _processed(url) >= total, 600, f"{total} records processed", interval_s=0.1)
        t1, cpu1 = time.perf_counter(), _cpu_seconds(proc.pid)
        n = total - n0
        sys.stdout.write(
            f"models {args.models}, events {total}, measured {n:.0f} after the first\n"
            f"wall {t1 - t0:.2f} s -> {n / (t1 - t0):,.0f} events/s; "
            f"worker CPU {cpu1 - cpu0:.2f} s -> {n / (cpu1 - cpu0):,.0f} events per CPU-second\n"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def _safe(fn: object) -> bool:
    try:
        return bool(fn())  # type: ignore[operator]
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
