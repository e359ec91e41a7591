"""Resource sampling with psutil: host/pod CPU, memory, disk, network rates, one named process.

:class:`SystemMetrics` turns successive probe samples into :class:`ResourceEvent`s. Network counters
are cumulative, so their per-second rates come from the previous sample (the first sample, a counter
reset or a non-increasing clock gives no rate). Host and pod names are passed in by the caller (the
agent reads ``HOSTNAME``/``POD_NAME``); this module reads no environment. The probe and the clock
are injectable, so the arithmetic is unit-tested without touching the machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import psutil

from mlmon_common import metric_names as mn
from mlmon_common.events import ResourceEvent, utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawSample:
    """One reading of the probe; network counters are cumulative bytes since boot."""

    cpu_percent: float
    memory_percent: float
    disk_percent: float | None
    net_bytes_recv: int
    net_bytes_sent: int
    process_cpu_percent: float | None = None
    process_rss_bytes: int | None = None


class Probe(Protocol):
    def sample(self, disk_path: str, pid: int | None) -> RawSample: ...


class PsutilProbe:
    """The real probe. CPU percentages are since the previous call (the first one reads 0)."""

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}

    def _process(self, pid: int) -> tuple[float | None, int | None]:
        try:
            proc = self._processes.get(pid) or self._processes.setdefault(pid, psutil.Process(pid))
            with proc.oneshot():
                return proc.cpu_percent(interval=None), proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied) as exc:
            self._processes.pop(pid, None)
            logger.warning("cannot sample process %s: %s", pid, exc)
            return None, None

    def sample(self, disk_path: str, pid: int | None) -> RawSample:
        net = psutil.net_io_counters()
        try:
            disk: float | None = psutil.disk_usage(disk_path).percent
        except OSError as exc:
            logger.warning("cannot read disk usage of %s: %s", disk_path, exc)
            disk = None
        proc_cpu, rss = self._process(pid) if pid is not None else (None, None)
        return RawSample(
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_percent=psutil.virtual_memory().percent,
            disk_percent=disk,
            net_bytes_recv=net.bytes_recv if net else 0,
            net_bytes_sent=net.bytes_sent if net else 0,
            process_cpu_percent=proc_cpu,
            process_rss_bytes=rss,
        )


def find_pid(name: str) -> int | None:
    """The lowest pid whose process name, or a command-line word, equals ``name``; None if none."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == name or name in cmdline:
            found.append(proc.info["pid"])
    return min(found) if found else None


def _rate(now: int, before: int, dt: float) -> float | None:
    return (now - before) / dt if now >= before else None


class SystemMetrics:
    """The seed's ``SystemMetrics``: one ``collect_metrics`` call -> one ``ResourceEvent``."""

    def __init__(
        self,
        *,
        host: str,
        pod: str | None = None,
        model_id: str | None = None,
        pid: int | None = None,
        disk_path: str = "/",
        probe: Probe | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.host, self.pod, self.model_id, self.pid = host, pod, model_id, pid
        self.disk_path = disk_path
        self._probe: Probe = probe or PsutilProbe()
        self._clock = clock
        self._previous: tuple[datetime, RawSample] | None = None

    def collect_metrics(self, service_name: str) -> ResourceEvent:
        """Sample now; ``model_id`` of the event is the served model, else ``service_name``."""
        now, raw = self._clock(), self._probe.sample(self.disk_path, self.pid)
        rate_in = rate_out = interval = None
        if self._previous is not None:
            before, prev = self._previous
            dt = (now - before).total_seconds()
            if dt > 0:
                interval = dt
                rate_in = _rate(raw.net_bytes_recv, prev.net_bytes_recv, dt)
                rate_out = _rate(raw.net_bytes_sent, prev.net_bytes_sent, dt)
        self._previous = (now, raw)
        return ResourceEvent(
            occurred_at=now,
            model_id=self.model_id or service_name,
            service=service_name,
            host=self.host,
            pod=self.pod,
            cpu_percent=raw.cpu_percent,
            memory_percent=raw.memory_percent,
            disk_percent=raw.disk_percent,
            net_bytes_in_per_s=rate_in,
            net_bytes_out_per_s=rate_out,
            process_cpu_percent=raw.process_cpu_percent,
            process_rss_bytes=raw.process_rss_bytes,
            interval_s=interval,
        )


def resource_values(ev: ResourceEvent) -> dict[str, float]:
    """The resource sample as ``MetricsEvent.values`` entries (fields that are set).

    >>> from mlmon_common.events import ResourceEvent
    >>> resource_values(ResourceEvent(model_id="s", service="s", host="h", cpu_percent=5, memory_percent=9))
    {'cpu_percent': 5.0, 'memory_percent': 9.0}
    """
    pairs = (
        (mn.CPU_PERCENT, ev.cpu_percent),
        (mn.MEMORY_PERCENT, ev.memory_percent),
        (mn.DISK_PERCENT, ev.disk_percent),
        (mn.NET_BYTES_IN_PER_S, ev.net_bytes_in_per_s),
        (mn.NET_BYTES_OUT_PER_S, ev.net_bytes_out_per_s),
    )
    return {name: float(value) for name, value in pairs if value is not None}
