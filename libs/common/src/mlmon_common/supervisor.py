"""``mlmon up``: the embedded stack as one foreground command.

Starts the local broker and Redis (unless ``MLMON_KAFKA_BOOTSTRAP``/``MLMON_REDIS_URL`` point elsewhere),
creates the topics, starts every installed service (entry-point group ``mlmon.services``) and every extra
process (group ``mlmon.extras``: the simulated fleet, the resource agent) as child processes with their logs
under the run directory, prints where each listens (the dashboard first), and on Ctrl-C/SIGTERM stops the
children (SIGTERM, then SIGKILL after 15 s) and the infrastructure it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from mlmon_common import topics
from mlmon_common.devstack import DevStack, InfraError, stop_process
from mlmon_common.kafka import ensure_topics, wait_for_broker
from mlmon_common.settings import KafkaSettings

#: Order in which URLs are printed (the dashboard first).
_ORDER = ("reporting", "collector", "drift", "alerting", "maintenance")


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    url: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:  # noqa: S310 - loopback URL we built
            return bool(resp.status == 200)
    except OSError:
        return False


def discover(group: str) -> list[Any]:
    found = [ep.load() for ep in entry_points(group=group)]
    return sorted(found, key=lambda s: _ORDER.index(s.name) if s.name in _ORDER else len(_ORDER))


def run_stack(
    run_dir: Path,
    kafka_port: int = 19092,
    redis_port: int = 6399,
    only: list[str] | None = None,
    with_extras: bool = True,
    duration_s: float | None = None,
    port_base: int = 8000,
) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    stack = DevStack(run_dir, kafka_port, redis_port)
    try:
        ep = stack.up(os.environ.get("MLMON_KAFKA_BOOTSTRAP"), os.environ.get("MLMON_REDIS_URL"))
    except InfraError as exc:
        _say(f"error: {exc}")
        return 1
    kafka = KafkaSettings(bootstrap=ep.kafka_bootstrap)
    wait_for_broker(kafka, 30)
    ensure_topics(kafka, topics.ALL)
    key_file = run_dir / "api_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(24))
    api_key = os.environ.get("MLMON_API_KEY") or key_file.read_text().strip()
    base_env = os.environ | {
        "MLMON_KAFKA_BOOTSTRAP": ep.kafka_bootstrap,
        "MLMON_REDIS_URL": ep.redis_url,
        "MLMON_API_KEY": api_key,
        "MLMON_RUN_DIR": str(run_dir.resolve()),
        "PYTHONUNBUFFERED": "1",
    }
    children: list[Child] = []
    for spec in discover("mlmon.services"):
        if only and spec.name not in only:
            continue
        port = spec.default_port - 8000 + port_base
        env = base_env | {"MLMON_HTTP_PORT": str(port)}
        url = f"http://127.0.0.1:{port}"
        children.append(Child(spec.name, [sys.executable, "-m", spec.module], env, run_dir / f"{spec.name}.log", url))
    if with_extras:
        for extra in discover("mlmon.extras"):
            children.append(
                Child(extra.name, [sys.executable, *extra.argv], dict(base_env), run_dir / f"{extra.name}.log")
            )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for child in children:
            child.start()
        deadline = time.monotonic() + 60
        for child in children:
            while child.url and not _healthy(child.url):
                if child.proc and child.proc.poll() is not None:
                    _say(f"error: {child.name} exited with {child.proc.returncode}; see {child.log}")
                    return 1
                if time.monotonic() > deadline or stop.is_set():
                    _say(f"error: {child.name} did not become healthy; see {child.log}")
                    return 1
                time.sleep(0.1)
        _print_banner(children, ep.kafka_bootstrap, ep.redis_url, run_dir, api_key)
        started = time.monotonic()
        while not stop.wait(1.0):
            for child in children:
                if child.proc and child.proc.poll() is not None:
                    _say(f"{child.name} exited with {child.proc.returncode}; see {child.log}")
                    return 1
            if duration_s is not None and time.monotonic() - started > duration_s:
                break
        return 0
    finally:
        _say("stopping ...")
        threads = [
            threading.Thread(target=stop_process, args=(c.proc.pid, 15.0)) for c in children if c.proc is not None
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stack.down()
        _say("stopped")


def _print_banner(children: list[Child], kafka: str, redis_url: str, run_dir: Path, api_key: str) -> None:
    lines = ["", "mlmon is running:"]
    for child in children:
        if child.url:
            label = "dashboard" if child.name == "reporting" else child.name
            lines.append(f"  {label:<12} {child.url}/" if child.name == "reporting" else f"  {label:<12} {child.url}")
    extras = [c.name for c in children if not c.url]
    lines += [
        f"  {'kafka':<12} {kafka}",
        f"  {'redis':<12} {redis_url}",
        f"  {'extras':<12} {', '.join(extras) or '-'}",
        f"  {'logs':<12} {run_dir.resolve()}/",
        f"  {'api key':<12} {run_dir.resolve() / 'api_key'} (header X-API-Key)" if api_key else "",
        "Ctrl-C stops everything.",
    ]
    _say("\n".join(line for line in lines if line))
