"""End-to-end latency: a MetricsEvent produced on Kafka -> the critical alert's webhook delivery.

Run: ``uv run python bench/alerting/bench_e2e.py [--alerts 600] [--rate 50]``.
Uses ``MLMON_KAFKA_BOOTSTRAP`` / ``MLMON_REDIS_URL`` when set, else starts a local broker and Redis.
The alerting service runs in this process exactly as deployed (consumer thread, Redis state + outbox,
delivery workers, HTTP app); the webhook receiver is a real HTTP server in a thread. Each event breaches
``accuracy_min`` for its own model (``group_by: [model_id]``, ``group_wait: 0s``), so each event is one
critical notification. Latency = receiver's arrival time - the time just before ``produce()``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from mlmon_alerting.app import build
from mlmon_alerting.config import parse_config
from mlmon_alerting.settings import AlertingOptions, AlertingSettings
from mlmon_common import topics
from mlmon_common.devstack import DevStack, free_port
from mlmon_common.events import MetricsEvent, utcnow
from mlmon_common.kafka import EventProducer, ensure_topics, wait_for_broker
from mlmon_common.settings import HttpSettings, KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, Received, serve_in_thread, unique, wait_for


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def receiver(arrivals: dict[str, float]) -> HttpSink:
    """The webhook: first arrival time (wall clock) per ``model_id``."""

    def arrived(request: Received) -> int:
        for alert in request.json()["alerts"]:
            arrivals.setdefault(alert["labels"]["model_id"], request.at)
        return 200

    return HttpSink(answer=arrived)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(n: int, rate: float, kafka_bootstrap: str, redis_url: str) -> dict[str, float]:
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_suffix=unique(""), group_prefix=unique("bench"))
    wait_for_broker(kafka)
    ensure_topics(kafka, topics.ALL)
    arrivals: dict[str, float] = {}
    sink = receiver(arrivals)
    sink.start()
    hook = f"{sink.url}/hook"
    config = parse_config(
        f"route: {{receiver: hook, group_by: [model_id], group_wait: 0s, group_interval: 1h}}\n"
        f'receivers: [{{name: hook, webhook_configs: [{{url: "{hook}"}}]}}]\n'
    )
    port = free_port()
    settings = AlertingSettings(
        env="test",
        log_level="WARNING",
        kafka=kafka,
        redis=RedisSettings(url=redis_url, key_prefix=unique("bench:") + ":"),  # type: ignore[arg-type]
        http=HttpSettings(port=port),
        alerting=AlertingOptions(),
    )
    runtime, app = build(settings, config)
    sent: dict[str, float] = {}
    producer = EventProducer(kafka, client_id="bench-e2e", config={"linger.ms": 0})
    with serve_in_thread(app, port):
        wait_for(lambda: runtime.probes.ready()[0], 60, "alerting ready")
        now = utcnow()
        events = [
            MetricsEvent(
                model_id=f"bench-{i:05d}", window_start=now - timedelta(minutes=1), window_end=now,
                values={"accuracy": 0.5},
            )
            for i in range(n)
        ]  # fmt: skip
        start = time.monotonic()
        for i, event in enumerate(events):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[event.model_id] = time.time()
            producer.send(topics.METRICS.name, event)
            producer.poll(0)
        producer.flush(30)
        wait_for(lambda: len(arrivals) >= n, 120, f"{n} webhook deliveries")
    producer.close()
    sink.close()
    lat = [(arrivals[m] - sent[m]) * 1000 for m in sent]
    return {
        "alerts": n,
        "rate_per_s": rate,
        "p50_ms": round(pct(lat, 50), 1),
        "p95_ms": round(pct(lat, 95), 1),
        "p99_ms": round(pct(lat, 99), 1),
        "max_ms": round(max(lat), 1),
        "mean_ms": round(statistics.fmean(lat), 1),
    }


def throughput(n: int, kafka_bootstrap: str, redis_url: str) -> dict[str, float]:
    """Events/s through the wired service (decode, dedupe, rules, lifecycle, Redis commit) for ``n``
    pre-produced metrics events over 200 models, 10 % breaching (their alerts go to no integration)."""
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, topic_suffix=unique(""), group_prefix=unique("bench"))
    wait_for_broker(kafka)
    ensure_topics(kafka, topics.ALL)
    producer = EventProducer(kafka, client_id="bench-tp")
    now = utcnow()
    for i in range(n):
        acc = 0.5 if i % 10 == 0 else 0.99
        producer.send(
            topics.METRICS.name,
            MetricsEvent(model_id=f"m{i % 200}", window_start=now, window_end=now, values={"accuracy": acc}),
        )
    producer.flush(60)
    producer.close()
    settings = AlertingSettings(
        env="test",
        log_level="WARNING",
        kafka=kafka,
        redis=RedisSettings(url=redis_url, key_prefix=unique("bench:") + ":"),  # type: ignore[arg-type]
        http=HttpSettings(port=free_port()),
    )
    runtime, app = build(settings, parse_config("route: {receiver: log}\nreceivers: [{name: log}]\n"))
    with serve_in_thread(app, settings.http.port):
        runner = runtime.telemetry.runners[0]
        wait_for(lambda: sum(runner.stats.handled.values()) > 0, 60, "the first batch", interval_s=0.001)
        start, first = time.monotonic(), sum(runner.stats.handled.values())
        wait_for(lambda: sum(runner.stats.handled.values()) >= n, 300, f"{n} events handled", interval_s=0.01)
        elapsed = time.monotonic() - start
    return {"events": n - first, "seconds": round(elapsed, 2), "events_per_s": round((n - first) / elapsed)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=600)
    parser.add_argument("--rate", type=float, default=50.0, help="metrics events produced per second")
    parser.add_argument("--throughput", type=int, default=0, help="instead: time N pre-produced events through")
    args = parser.parse_args()
    kafka, redis_url = os.environ.get("MLMON_KAFKA_BOOTSTRAP"), os.environ.get("MLMON_REDIS_URL")
    stack = None
    if not kafka or not redis_url:
        stack = DevStack(Path(tempfile.mkdtemp(prefix="mlmon-bench-")), kafka_port=free_port(), redis_port=free_port())
        ep = stack.up(kafka, redis_url)
        kafka, redis_url = ep.kafka_bootstrap, ep.redis_url
    try:
        if args.throughput:
            _out(json.dumps(throughput(args.throughput, kafka, redis_url)))
            return 0
        result = run(args.alerts, args.rate, kafka, redis_url)
    finally:
        if stack is not None:
            stack.down()
    _out(json.dumps(result))
    target = "met" if result["p99_ms"] < 500 else "MISSED"
    ms = {k: result[f"{k}_ms"] for k in ("p50", "p95", "p99")}
    _out(f"p50 {ms['p50']} ms, p95 {ms['p95']} ms, p99 {ms['p99']} ms (target p99 < 500 ms: {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
