"""The README's run command: `mlmon up` (what `make run` calls) brings up broker, Redis and every service,
prints where each listens, and Ctrl-C stops all of it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from mlmon_common.devstack import free_port, port_open
from mlmon_common.testing import wait_for

SERVICES = ("reporting", "collector", "drift", "alerting", "maintenance")


def test_mlmon_up_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    kafka_port, redis_port = free_port(), free_port()
    port_base = 18000 + (os.getpid() % 500) * 10
    argv = [
        sys.executable,
        "-m",
        "mlmon_common.cli",
        "up",
        "--run-dir",
        str(tmp_path / "run"),
        "--kafka-port",
        str(kafka_port),
        "--redis-port",
        str(redis_port),
        "--port-base",
        str(port_base),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("MLMON_KAFKA_BOOTSTRAP", "MLMON_REDIS_URL")}
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: "Ctrl-C stops everything" in log.read_text() or proc.poll() is not None, 120, "the banner")
        text = log.read_text()
        assert proc.poll() is None, text
        urls = dict(re.findall(r"^\s+(\w+)\s+(http://\S+?)/?$", text, re.M))
        assert next(iter(urls)) == "dashboard", "the dashboard URL is printed first"
        assert set(urls) == {"dashboard", *SERVICES[1:]}
        for url in urls.values():
            wait_for(lambda u=url: httpx.get(f"{u}/readyz", timeout=2).status_code == 200, 60, f"{url}/readyz")
            assert "mlmon_ready" in httpx.get(f"{url}/metrics", timeout=2).text
        assert port_open("127.0.0.1", kafka_port)
        assert port_open("127.0.0.1", redis_port)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, log.read_text()
    assert not port_open("127.0.0.1", kafka_port), "the broker was stopped"
    assert not port_open("127.0.0.1", redis_port), "redis was stopped"
    assert not any(port_open("127.0.0.1", port_base + i) for i in range(5)), "every service was stopped"
