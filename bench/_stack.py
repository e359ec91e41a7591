"""Benchmarks' access to a broker: MLMON_KAFKA_BOOTSTRAP if set, else a fresh local broker (stopped at exit)."""

from __future__ import annotations

import atexit
import os
import platform
import tempfile
from pathlib import Path

from mlmon_common import topics
from mlmon_common.devstack import DevStack, free_port
from mlmon_common.events import PredictionEvent
from mlmon_common.kafka import ensure_topics, wait_for_broker
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import unique


def kafka_for_bench() -> KafkaSettings:
    bootstrap = os.environ.get("MLMON_KAFKA_BOOTSTRAP")
    if not bootstrap:
        stack = DevStack(Path(tempfile.mkdtemp(prefix="mlmon-bench-")), kafka_port=free_port(), redis_port=free_port())
        from mlmon_common.devstack import start_broker

        stack.run_dir.mkdir(parents=True, exist_ok=True)
        pid, _log = start_broker(stack.run_dir, stack.kafka_port)
        from mlmon_common.devstack import stop_process

        atexit.register(stop_process, pid)
        bootstrap = f"127.0.0.1:{stack.kafka_port}"
    kafka = KafkaSettings(bootstrap=bootstrap, topic_suffix=unique(""), group_prefix=unique("bench"))
    wait_for_broker(kafka)
    ensure_topics(kafka, topics.ALL)
    return kafka


#: 9 features: with the envelope the prediction event is ~450 bytes of JSON (the size the targets are set for).
FEATURES = {
    "age": 41,
    "income": 52310.5,
    "tenure": 17,
    "balance": 1234.56,
    "products": 2,
    "country": "DE",
    "plan": "pro",
    "active": True,
}


def sample_event(i: int = 0) -> PredictionEvent:
    """A ~450-byte prediction event (9 features)."""
    return PredictionEvent(
        model_id="bench-model",
        model_version="v1",
        prediction_id=f"p-{i:09d}",
        features=FEATURES,
        prediction=1,
        score=0.8731,
        latency_ms=12.5,
    )


def machine() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )
