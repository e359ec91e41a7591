"""The ceiling faust itself puts on a worker: a no-op agent (``take_events``, as the drift worker) over N
pre-produced 14-feature prediction records, same consumer settings as the drift service.
``--batched`` delivers one stream event per fetched batch of one partition, as the drift worker now does.

Run: cd /work/main && UV_PYTHON_DOWNLOADS=never uv run python bench/drift/bench_faust_ceiling.py \\
         [--events N] [--no-uvloop] [--batched]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faust

from mlmon_common import topics
from mlmon_common.devstack import free_port, start_broker, stop_process
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import EventProducer, ensure_topics, wait_for_broker
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import unique
from mlmon_drift.batching import BATCH_SERIALIZER, use_batches
from mlmon_drift.stream import use_fetch_max_wait

FEATURES = {f"n{i}": i * 1.5 for i in range(10)} | {"c0": "a", "c1": "x", "c2": True, "c3": "L3"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument(
        "--batched", action="store_true", help="deliver one event per fetched batch (mlmon_drift.batching)"
    )
    args = parser.parse_args()
    if not args.no_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    run = Path(tempfile.mkdtemp(prefix="mlmon-bench-faust-"))
    port = free_port()
    pid, _ = start_broker(run, port)
    try:
        kafka = KafkaSettings(bootstrap=f"127.0.0.1:{port}", topic_suffix=unique(""), group_prefix=unique("c"))
        wait_for_broker(kafka)
        ensure_topics(kafka, topics.ALL)
        producer = EventProducer(kafka, client_id="bench")
        for i in range(args.events):
            event = PredictionEvent(model_id=f"m{i % 10}", prediction_id=f"p{i}", features=FEATURES, score=0.5)
            producer.send(topics.PREDICTIONS.name, event)
        producer.close(60)
        _consume(kafka, args.events, "uvloop" if not args.no_uvloop else "asyncio", batched=args.batched)
    finally:
        stop_process(pid)


def _consume(kafka: KafkaSettings, n: int, loop_name: str, *, batched: bool) -> None:
    use_fetch_max_wait(kafka.fetch_wait_max_ms)
    app = faust.App(
        f"{kafka.group_prefix}-drift",
        broker=f"kafka://{kafka.bootstrap}",
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        web_port=free_port(),
        web_bind="127.0.0.1",
        web_enabled=False,
        datadir=tempfile.mkdtemp(),
        broker_max_poll_records=500,
    )
    codec = "raw"
    if batched:
        use_batches(app)
        codec, loop_name = BATCH_SERIALIZER, f"{loop_name}, batched"
    topic = app.topic(kafka.topic(topics.PREDICTIONS.name), key_serializer=codec, value_serializer=codec)
    state: dict[str, Any] = {"n": 0}
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False, redirect_stdouts=False)

    @app.agent(topic)
    async def noop(stream: Any) -> None:
        batches = stream if batched else stream.take_events(500, within=0.05)
        async for batch in batches:
            if "t0" not in state:
                state["t0"], state["c0"] = time.perf_counter(), time.process_time()
            state["n"] += len(batch)
            if state["n"] >= n and "done" not in state:
                wall, cpu = time.perf_counter() - state["t0"], time.process_time() - state["c0"]
                state["done"] = True
                sys.stdout.write(f"faust no-op agent ({loop_name}): {n / wall:,.0f} records/s wall, ")
                sys.stdout.write(f"{n / cpu:,.0f} per CPU-second\n")
                state["stop"] = asyncio.ensure_future(worker.stop())

    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()


if __name__ == "__main__":
    main()
