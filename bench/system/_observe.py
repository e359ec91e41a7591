"""What the pipeline benchmark watches: service /metrics, the metrics topic, a webhook receiver, RSS."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import defaultdict

import psutil
from confluent_kafka import Consumer
from prometheus_client.parser import text_string_to_metric_families

from mlmon_common import topics
from mlmon_common.events import MetricsEvent
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import HttpSink, Received, unique


def scrape(url: str) -> dict[str, float]:
    """Counters of one service's /metrics, summed over labels except ``topic``: ``name{topic}`` -> value."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = defaultdict(float)
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if not s.name.endswith("_total"):
                continue
            topic = s.labels.get("topic", "")
            out[f"{s.name}{{{topic.removeprefix('mlmon.')}}}" if topic else s.name] += s.value
    return dict(out)


def rss_mib(pid: int) -> float:
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.NoSuchProcess:
        return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process used so far."""
    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.NoSuchProcess:
        return float("nan")


class WebhookReceiver(HttpSink):
    """The alerts' webhook (started on creation): first arrival time (wall clock) per ``model_id``."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        super().__init__(answer=self._arrived)
        self.start()
        self.url = f"{self.url}/hook"

    def _arrived(self, request: Received) -> int:
        for alert in request.json().get("alerts", []):
            model = alert.get("labels", {}).get("model_id")
            if model:
                with self.lock:
                    self.arrivals.setdefault(model, request.at)
        return 200

    @property
    def posts(self) -> int:
        return self.attempts


class MetricsWatcher:
    """Consumes ``mlmon.metrics.v1`` from the start; first arrival time per (model_id, window_start epoch)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.first_seen: dict[tuple[str, float], float] = {}
        self.window_end: dict[tuple[str, float], float] = {}
        self.events = 0
        self._stop = threading.Event()
        self.assigned = threading.Event()
        self._consumer = Consumer(
            kafka.client_config()
            | {"group.id": unique("bench-watch"), "auto.offset.reset": "earliest", "enable.auto.commit": False}
        )
        self._consumer.subscribe(
            [kafka.topic(topics.METRICS.name)], on_assign=lambda _c, parts: parts and self.assigned.set()
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(500, 0.05):
                at = time.time()
                if msg.error() or msg.value() is None:
                    continue
                ev = MetricsEvent.model_validate_json(msg.value())
                self.events += 1
                key = (ev.model_id, ev.window_start.timestamp())
                self.first_seen.setdefault(key, at)
                self.window_end[key] = ev.window_end.timestamp()
        self._consumer.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float], scale: float = 1000.0) -> dict[str, float]:
    """p50/p95/p99/max of ``values`` (seconds) in ms."""
    return {
        "n": len(values),
        **{f"p{q}_ms": round(pct(values, q) * scale, 1) for q in (50, 95, 99)},
        "max_ms": round(max(values) * scale, 1) if values else float("nan"),
    }
