"""Whole-pipeline load benchmark: every service as a process (``mlmon up --no-sim``), a paced load for 60 s.

usage: uv run python bench/system/bench_pipeline.py [--rate 5000] [--duration 60] [--workers 1 2]
       [--label-share 0.3] [--models 4] [--window-s 5] [--alert-rate 10] [--json OUT]

Per run (one per ``--workers`` value, each on a fresh broker + Redis in a temp run dir, free ports):
1. writes one YAML config (collector: ``window_s`` windows and the load models' registry entries with 14
   features; alerting: one route ``group_by [model_id], group_wait 0s`` to a local HTTP webhook receiver) and
   starts ``mlmon up --no-sim`` with it; with ``--workers 2`` a second ``python -m mlmon_collector`` and
   ``python -m mlmon_drift`` join the same consumer groups before any data is sent;
2. a separate process produces ``rate`` predictions/s (+ labels for ``label-share`` of them) to the raw topics
   for ``duration`` s; meanwhile this process produces ``alert-rate`` metrics events/s breaching
   ``accuracy_min`` (one model each) straight to ``mlmon.metrics.v1``;
3. reports: per-service records handled per second during the load (from each process's /metrics) and how
   long each stage needed after the load to catch up, latency (a) prediction produced -> first publication of
   its window on ``mlmon.metrics.v1`` (and window end -> publication), (b) breaching metrics event produced ->
   critical webhook delivery, RSS of every process before/after, load average.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import yaml
from _load import LoadPlan, registry_entry, run_load
from _observe import MetricsWatcher, WebhookReceiver, cpu_s, rss_mib, scrape, summary

from mlmon_common import topics
from mlmon_common.devstack import free_port, port_open, stop_process
from mlmon_common.events import MetricsEvent, utcnow
from mlmon_common.kafka import EventProducer
from mlmon_common.settings import KafkaSettings
from mlmon_common.testing import wait_for

SERVICES = ("reporting", "collector", "drift", "alerting", "maintenance")
#: Watermark = newest event time minus this (the collector's default is 5 s; short here, stated in RESULTS).
OUT_OF_ORDER_S = 1.0


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _port_base() -> int:
    for _ in range(200):
        base = free_port()
        if base + 5 < 65535 and not any(port_open("127.0.0.1", base + i) for i in range(5)):
            return base
    raise RuntimeError("no 5 consecutive free ports")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass
class Stack:
    run_dir: Path
    up: subprocess.Popen[bytes]
    urls: dict[str, list[str]]  # service -> URLs of its processes
    pids: dict[str, list[int]]  # service (and broker, redis) -> pids
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)
    bootstrap: str = ""

    def stop(self) -> None:
        for proc in self.extra:
            stop_process(proc.pid, 20)
        stop_process(self.up.pid, 40)


def _config(run_dir: Path, models: list[str], window_s: float, hook: str) -> Path:
    cfg = {
        "collector": {"window_s": window_s, "models": [registry_entry(m) for m in models]},
        "alerting": {
            "route": {"receiver": "hook", "group_by": ["model_id"], "group_wait": "0s", "group_interval": "1h"},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}],
        },
    }
    path = run_dir / "mlmon.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def start_stack(models: list[str], window_s: float, hook: str, workers: int) -> Stack:
    run_dir = Path(tempfile.mkdtemp(prefix="mlmon-system-"))
    kafka_port, redis_port, base = free_port(), free_port(), _port_base()
    env = os.environ | {
        "MLMON_CONFIG": str(_config(run_dir, models, window_s, hook)),
        "MLMON_LOG_LEVEL": "WARNING",
        "MLMON_COLLECTOR_MAX_OUT_OF_ORDER_S": str(OUT_OF_ORDER_S),
    }
    for var in ("MLMON_KAFKA_BOOTSTRAP", "MLMON_REDIS_URL"):
        env.pop(var, None)
    mlmon = str(Path(sys.executable).parent / "mlmon")
    argv = [mlmon, "up", "--no-sim", "--run-dir", str(run_dir), "--kafka-port", str(kafka_port)]
    argv += ["--redis-port", str(redis_port), "--port-base", str(base)]
    with open(run_dir / "up.out", "ab") as log:
        up = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    urls = {svc: [f"http://127.0.0.1:{base + i}"] for i, svc in enumerate(SERVICES)}
    stack = Stack(run_dir, up, urls, {}, bootstrap=f"127.0.0.1:{kafka_port}")
    try:
        for svc in SERVICES:
            wait_for(lambda s=svc: _ready(urls[s][0]), 180, f"{svc} ready (logs in {run_dir})", interval_s=0.25)
        infra = json.loads((run_dir / "infra.json").read_text())
        child_env = env | {
            "MLMON_KAFKA_BOOTSTRAP": infra["kafka_bootstrap"],
            "MLMON_REDIS_URL": infra["redis_url"],
            "MLMON_API_KEY": (run_dir / "api_key").read_text().strip(),
        }
        for n in range(2, workers + 1):
            for svc in ("collector", "drift"):
                port = free_port()
                with open(run_dir / f"{svc}-{n}.log", "ab") as log:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", f"mlmon_{svc}"],
                        env=child_env | {"MLMON_HTTP_PORT": str(port)},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                stack.extra.append(proc)
                urls[svc].append(f"http://127.0.0.1:{port}")
                stack.pids.setdefault(svc, [])
        for svc in SERVICES:
            for url in urls[svc]:
                wait_for(lambda u=url: _ready(u), 180, f"{url} ready", interval_s=0.25)
        for child in psutil.Process(up.pid).children():
            cmd = " ".join(child.cmdline())
            for svc in SERVICES:
                if f"mlmon_{svc}" in cmd:
                    stack.pids.setdefault(svc, []).insert(0, child.pid)
        for proc in stack.extra:
            svc = "collector" if "collector" in " ".join(proc.args) else "drift"  # type: ignore[arg-type]
            stack.pids[svc].append(proc.pid)
        stack.pids["broker"] = [infra["pids"]["broker"]]
        stack.pids["redis"] = [infra["pids"]["redis"]]
    except BaseException:
        stack.stop()
        raise
    return stack


def scrape_all(stack: Stack) -> dict[str, dict[str, float]]:
    """Counters per service, summed over its processes."""
    out: dict[str, dict[str, float]] = {}
    for svc, urls in stack.urls.items():
        total: dict[str, float] = {}
        for url in urls:
            for k, v in scrape(url).items():
                total[k] = total.get(k, 0.0) + v
        out[svc] = total
    return out


def alert_probe(kafka: KafkaSettings, n: int, rate: float, sent: dict[str, float], start_at: float) -> None:
    producer = EventProducer(kafka, client_id="bench-system-alerts", config={"linger.ms": 0})
    while time.time() < start_at:
        time.sleep(0.01)
    start = time.monotonic()
    for i in range(n):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = utcnow()
        event = MetricsEvent(
            model_id=f"alert-{i:05d}", window_start=now - timedelta(minutes=1), window_end=now,
            values={"accuracy": 0.5},
        )  # fmt: skip
        sent[event.model_id] = time.time()
        producer.send(topics.METRICS.name, event)
        producer.poll(0)
    producer.flush(30)
    producer.close()


def _c(snap: dict[str, dict[str, float]], svc: str, key: str) -> float:
    return snap.get(svc, {}).get(key, 0.0)


#: (label, service, counter) of the stage counters reported; raw topics are consumed by the collector.
STAGES = [
    ("collector raw predictions -> canonical", "collector", "mlmon_handled_total{raw.predictions.v1}"),
    ("collector raw labels -> join", "collector", "mlmon_handled_total{raw.labels.v1}"),
    ("collector-metrics predictions", "collector", "mlmon_handled_total{predictions.v1}"),
    ("collector-metrics outcomes", "collector", "mlmon_handled_total{outcomes.v1}"),
    ("drift predictions", "drift", "mlmon_drift_events_processed_total{predictions}"),
    ("drift outcomes", "drift", "mlmon_drift_events_processed_total{outcomes}"),
    ("alerting metrics", "alerting", "mlmon_handled_total{metrics.v1}"),
    ("reporting metrics", "reporting", "mlmon_handled_total{metrics.v1}"),
    ("maintenance alerts", "maintenance", "mlmon_handled_total{alerts.v1}"),
]


def catch_up(stack: Stack, targets: dict[str, float], ended: float, timeout_s: float) -> dict[str, Any]:
    """Seconds after the load ended until each stage handled its target count (None: not within timeout)."""
    done: dict[str, float | None] = {label: None for label in targets}
    last: dict[str, dict[str, float]] = {}
    deadline = time.time() + timeout_s
    while time.time() < deadline and any(v is None for v in done.values()):
        last = scrape_all(stack)
        now = time.time()
        for label, svc, key in STAGES:
            if label in targets and done[label] is None and _c(last, svc, key) >= targets[label]:
                done[label] = round(max(0.0, now - ended), 1)
        time.sleep(0.5)
    return {"seconds": done, "final": last}


def window_latency(watcher: MetricsWatcher, samples: list[list[Any]], window_s: float, ended: float) -> dict[str, Any]:
    """(a) per sampled prediction: first publication of its window - its produce time; and per window: first
    publication - window end. Windows ending after the load ended (closed by the idle timer, not by load) are
    left out."""
    per_pred: list[float] = []
    missing = 0
    for model, at in samples:
        start = math.floor(at / window_s) * window_s
        if start + window_s > ended:
            continue
        seen = watcher.first_seen.get((model, start))
        if seen is None:
            missing += 1
            continue
        per_pred.append(seen - at)
    per_window = [
        seen - watcher.window_end[key]
        for key, seen in watcher.first_seen.items()
        if not key[0].startswith("alert-") and watcher.window_end[key] <= ended
    ]
    return {
        "prediction_to_window_published": summary(per_pred),
        "window_end_to_published": summary(per_window),
        "samples_without_window": missing,
    }


def one_run(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    models = [f"load-{i}" for i in range(args.models)]
    receiver = WebhookReceiver()
    stack = start_stack(models, args.window_s, receiver.url, workers)
    try:
        return _measure(args, workers, models, stack, receiver)
    finally:
        stack.stop()
        receiver.close()


def _measure(
    args: argparse.Namespace, workers: int, models: list[str], stack: Stack, receiver: WebhookReceiver
) -> dict[str, Any]:
    kafka = KafkaSettings(bootstrap=stack.bootstrap)
    rss_before = {name: [rss_mib(p) for p in pids] for name, pids in stack.pids.items()}
    load_before = os.getloadavg()
    cpu_before = {name: [cpu_s(p) for p in pids] for name, pids in stack.pids.items()}
    watcher = MetricsWatcher(kafka)
    wait_for(watcher.assigned.is_set, 60, "the metrics watcher's partitions")
    base = scrape_all(stack)
    start_at = time.time() + 2.0
    out = stack.run_dir / "load.json"
    plan = LoadPlan(stack.bootstrap, models, args.rate, args.duration, args.label_share, str(out), start_at=start_at)
    loader = multiprocessing.get_context("spawn").Process(target=run_load, args=(plan,))
    loader.start()
    n_alerts = int(args.alert_rate * max(1.0, args.duration - 10))
    sent_alerts: dict[str, float] = {}
    probe = threading.Thread(
        target=alert_probe, args=(kafka, n_alerts, args.alert_rate, sent_alerts, start_at + 5), daemon=True
    )
    probe.start()
    timeline: list[tuple[float, dict[str, dict[str, float]]]] = []
    load_peak = load_before
    while loader.is_alive():
        loader.join(5)
        timeline.append((time.time(), scrape_all(stack)))
        load_peak = max(load_peak, os.getloadavg(), key=lambda x: x[0])
    if loader.exitcode != 0:
        raise RuntimeError(f"load generator exited with {loader.exitcode}")
    load = json.loads(out.read_text())
    at_end = scrape_all(stack)
    cpu_end = {name: [cpu_s(p) for p in pids] for name, pids in stack.pids.items()}
    targets = {
        STAGES[0][0]: load["predictions"],
        STAGES[1][0]: load["labels"],
        STAGES[2][0]: load["predictions"],
        STAGES[3][0]: load["labels"],
        STAGES[4][0]: load["predictions"],
        STAGES[5][0]: load["labels"],
    }
    drained = catch_up(stack, targets, load["ended"], args.drain_timeout)
    probe.join(60)
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: len(receiver.arrivals.keys() & sent_alerts.keys()) >= len(sent_alerts), 60, "alerts")
    wait_for(lambda: watcher.first_seen, 30, "metrics windows")
    watcher.close()
    alert_lat = [receiver.arrivals[m] - t for m, t in sent_alerts.items() if m in receiver.arrivals]
    rss_after = {name: [rss_mib(p) for p in pids] for name, pids in stack.pids.items()}
    secs = load["ended"] - load["started"]
    during = {label: round((_c(at_end, svc, key) - _c(base, svc, key)) / secs) for label, svc, key in STAGES}
    return {
        "workers": workers,
        "rate_target": args.rate,
        "duration_s": round(secs, 1),
        "predictions": load["predictions"],
        "labels": load["labels"],
        "produced_per_s": round(load["predictions"] / secs),
        "produce_per_second_min_median": _min_median(load["per_second"][:-1]),
        "delivery_failures": load["delivery_failures"],
        "handled_per_s_during_load": during,
        "catch_up_s_after_load": drained["seconds"],
        "totals_after": {label: _c(drained["final"], svc, key) for label, svc, key in STAGES},
        "latency_a": window_latency(watcher, load["samples"], args.window_s, load["ended"]),
        "latency_b": {**summary(alert_lat), "sent": len(sent_alerts), "delivered": len(alert_lat)},
        "webhook_posts": receiver.posts,
        "cpu_s_during_load": {
            name: [round(b - a, 1) for a, b in zip(cpu_before[name], cpu_end[name], strict=True)] for name in cpu_before
        }
        | {"load generator": [load["cpu_s"]]},
        "rss_mib_before": rss_before,
        "rss_mib_after": rss_after,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_peak_1m": round(load_peak[0], 2),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "timeline": _timeline(timeline, base, load["started"]),
        "run_dir": str(stack.run_dir),
    }


def _min_median(values: list[int]) -> list[int]:
    if not values:
        return [0, 0]
    return [min(values), sorted(values)[len(values) // 2]]


def _timeline(
    snaps: list[tuple[float, dict[str, dict[str, float]]]], base: dict[str, dict[str, float]], started: float
) -> list[dict[str, float]]:
    """Per ~5 s interval: records/s of the raw -> canonical stage and of drift (shows lag building up)."""
    rows = []
    prev_t, prev = started, base
    for t, snap in snaps:
        dt = max(1e-6, t - prev_t)
        row = {"t_s": round(t - started, 1)}
        for label, svc, key in (STAGES[0], STAGES[2], STAGES[4]):
            row[label.split(" ")[0] + ":" + key.split("{")[1].rstrip("}")] = round(
                (_c(snap, svc, key) - _c(prev, svc, key)) / dt
            )
        rows.append(row)
        prev_t, prev = t, snap
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0, help="predictions per second")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="collector+drift processes")
    parser.add_argument("--label-share", type=float, default=0.3)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--window-s", type=float, default=5.0)
    parser.add_argument("--alert-rate", type=float, default=10.0, help="breaching metrics events per second")
    parser.add_argument("--drain-timeout", type=float, default=240.0)
    parser.add_argument("--json", help="also write all results to this file")
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0 or not 0 <= args.label_share <= 1 or args.models < 1:
        parser.error("--rate and --duration must be > 0, --label-share in [0, 1], --models >= 1")
    results = []
    for workers in args.workers:
        _out(f"== run: {workers} collector + {workers} drift process(es), {args.rate:.0f}/s for {args.duration:.0f} s")
        result = one_run(args, workers)
        results.append(result)
        _out(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
