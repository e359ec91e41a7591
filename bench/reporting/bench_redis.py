"""Query latency against a REAL Redis (50 models, 24 h and 7 d) and Redis memory per model-day.

Latency: the 48 h of 1-min buckets and 8 d of 1-h rollups of 12 series per model are written in the
store's key layout (pipelined HSET, the shape the ingest path produces), then
``PerformanceMonitor.monitor_metrics`` over ``RedisSeriesStore`` (the Redis round trip included) and the
full HTTP ``GET /v1/models/{id}/metrics`` (uvicorn + JSON) are timed for every model.
Memory: one day of 1-min metrics windows (8 values) and 1-min resource samples (3 values) per model goes
through the real ingest path (``write_events`` in batches of 500, rollups flushed); ``INFO memory``
``used_memory`` delta and the sum of ``MEMORY USAGE`` of the keys are divided by the models.

    uv run python bench/reporting/bench_redis.py [--models 50] [--memory-models 5]

Uses ``MLMON_REDIS_URL`` if set (keys under a unique prefix, deleted after), else starts ``redis-server``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis
from bench_query import SERIES  # the same 12 series per model as the in-memory bench (run from this directory)
from fastapi import FastAPI

from mlmon_common import devstack
from mlmon_common.devstack import free_port
from mlmon_common.events import MetricsEvent, ResourceEvent
from mlmon_common.testing import drop_keys, serve_in_thread, unique
from mlmon_reporting.api import models as models_api
from mlmon_reporting.api.deps import Parts
from mlmon_reporting.broadcast import Broadcaster
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.monitor import PerformanceMonitor
from mlmon_reporting.redis_store import RedisSeriesStore
from mlmon_reporting.report_jobs import ReportScheduler
from mlmon_reporting.settings import ReportingOptions
from mlmon_reporting.timeseries import MODELS_KEY, RAW, ROLLUP, Agg, raw_key, series_key, ttl_s

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def start_redis() -> tuple[str, int | None]:
    """``MLMON_REDIS_URL`` if set, else an own redis-server (no persistence) on a free port."""
    url = os.environ.get("MLMON_REDIS_URL")
    if url:
        return url, None
    port = free_port()
    pid, _log = devstack.start_redis(Path(tempfile.mkdtemp(prefix="bench-redis-")), port, persist=False)
    return f"redis://127.0.0.1:{port}/0", pid


def populate(r: redis.Redis, prefix: str, models: int) -> None:
    end = int(NOW.timestamp())
    for m in range(models):
        model = f"model-{m:03d}"
        pipe = r.pipeline(transaction=False)
        pipe.hset(prefix + MODELS_KEY, model, end)
        pipe.hset(prefix + series_key(model), mapping=dict.fromkeys(SERIES, end))
        for name in SERIES:
            for res, n in ((RAW, 48 * 60), (ROLLUP, 8 * 24)):
                count = 1 if res is RAW else 60
                by_key: dict[str, dict[str, str]] = {}
                for i in range(n):
                    ts = (end // res.step_s - i - 1) * res.step_s
                    v = 0.9 + (i % 7) / 100
                    by_key.setdefault(prefix + raw_key(model, name, res, ts), {})[str(ts)] = Agg(
                        count, v * count, v, v, v, float(ts), 0
                    ).encode(ts)
                for key, fields in by_key.items():
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, ttl_s(res))
        pipe.execute()


def pct(ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms"
        f" (n={len(ms)})"
    )


def latency(store: RedisSeriesStore, models: int, rounds: int) -> None:
    monitor = PerformanceMonitor(store, store.config, clock=lambda: NOW)
    app = FastAPI()
    app.include_router(models_api.router)
    app.state.reporting = Parts(
        config=store.config,
        options=ReportingOptions(),
        store=store,
        monitor=monitor,
        broadcaster=Broadcaster(),
        scheduler=ReportScheduler(store, store.config),
    )
    with serve_in_thread(app, free_port()) as url, httpx.Client(base_url=url, timeout=30) as http:
        for timeframe in ("24h", "7d"):
            direct, over_http = [], []
            for _ in range(rounds):
                for m in range(models):
                    t0 = time.perf_counter()
                    resp = monitor.monitor_metrics(f"model-{m:03d}", timeframe)
                    direct.append((time.perf_counter() - t0) * 1000)
                    assert len(resp.series) == len(SERIES)
                    t0 = time.perf_counter()
                    r = http.get(f"/v1/models/model-{m:03d}/metrics", params={"timeframe": timeframe})
                    over_http.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200
            print(f"{timeframe} monitor_metrics over Redis: {pct(direct)}")
            print(f"{timeframe} HTTP GET /v1/models/{{id}}/metrics: {pct(over_http)} ({len(r.content) / 1024:.0f} KiB)")


def memory(r: redis.Redis, url: str, models: int) -> None:
    prefix = unique("mlmon-bench-mem:") + ":"
    store = RedisSeriesStore(redis.Redis.from_url(url), prefix, ReportingConfig(), clock=lambda: NOW)
    before = int(r.info("memory")["used_memory"])
    start = NOW - timedelta(days=1)
    events: list = []
    for m in range(models):
        model = f"mem-{m:03d}"
        for i in range(1440):
            t = start + timedelta(minutes=i)
            v = 0.9 + (i % 7) / 100
            events.append(
                MetricsEvent(
                    model_id=model,
                    window_start=t,
                    window_end=t + timedelta(minutes=1),
                    values={k: v for k in (*SERIES[:7], "data_drift")},
                )
            )
            events.append(
                ResourceEvent(
                    model_id=model,
                    service="s",
                    host="h",
                    cpu_percent=40,
                    memory_percent=50,
                    disk_percent=30,
                    occurred_at=t,
                )
            )
    t0 = time.perf_counter()
    for i in range(0, len(events), 500):
        store.write_events(events[i : i + 500])
    took = time.perf_counter() - t0
    store.flush_rollups()
    after = int(r.info("memory")["used_memory"])
    keys = list(r.scan_iter(match=prefix + "*", count=1000))
    usage = sum(int(r.memory_usage(k) or 0) for k in keys)
    print(
        f"ingest: {len(events)} events ({len(events) / took:.0f} events/s, batches of 500); "
        f"per model-day: used_memory +{(after - before) / models / 1024:.0f} KiB, "
        f"MEMORY USAGE {usage / models / 1024:.0f} KiB over {len(keys) / models:.0f} keys "
        f"(11 series, 1440 1-min buckets + 24 1-h rollups each; dedupe sets included)"
    )
    if keys:
        r.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-models", type=int, default=5)
    args = parser.parse_args()
    url, pid = start_redis()
    try:
        r = redis.Redis.from_url(url)
        print(f"redis {r.info('server')['redis_version']} at {url.rsplit('@', 1)[-1]}")
        prefix = unique("mlmon-bench:") + ":"
        t0 = time.perf_counter()
        populate(r, prefix, args.models)
        print(f"populated {args.models} models x {len(SERIES)} series in {time.perf_counter() - t0:.1f} s")
        latency(
            RedisSeriesStore(redis.Redis.from_url(url), prefix, ReportingConfig(), clock=lambda: NOW),
            args.models,
            args.rounds,
        )
        drop_keys(r, prefix)
        memory(r, url, args.memory_models)
    finally:
        if pid is not None:
            devstack.stop_process(pid)


if __name__ == "__main__":
    main()
