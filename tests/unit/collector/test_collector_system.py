from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psutil
import pytest
from pydantic import ValidationError

from mlmon_collector.system import PsutilProbe, RawSample, SystemMetrics, find_pid

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeProbe:
    def __init__(self, samples: list[RawSample]) -> None:
        self.samples = iter(samples)
        self.calls: list[tuple[str, int | None]] = []

    def sample(self, disk_path: str, pid: int | None) -> RawSample:
        self.calls.append((disk_path, pid))
        return next(self.samples)


def clock(*seconds: float) -> Iterator[datetime]:
    return iter(T0 + timedelta(seconds=s) for s in seconds)


def raw(recv: int, sent: int, cpu: float = 12.5) -> RawSample:
    return RawSample(
        cpu_percent=cpu,
        memory_percent=40.0,
        disk_percent=70.5,
        net_bytes_recv=recv,
        net_bytes_sent=sent,
        process_cpu_percent=150.0,
        process_rss_bytes=1024,
    )


def test_rates_come_from_the_previous_sample() -> None:
    probe = FakeProbe([raw(1000, 500), raw(4000, 1500), raw(4000, 1500)])
    ticks = clock(0, 10, 20)
    sm = SystemMetrics(
        host="node-1", pod="collector-0", pid=42, disk_path="/data", probe=probe, clock=lambda: next(ticks)
    )
    first = sm.collect_metrics("collector")
    assert (first.net_bytes_in_per_s, first.net_bytes_out_per_s, first.interval_s) == (None, None, None)
    assert (first.model_id, first.service, first.host, first.pod) == ("collector", "collector", "node-1", "collector-0")
    assert (first.cpu_percent, first.memory_percent, first.disk_percent) == (12.5, 40.0, 70.5)
    assert (first.process_cpu_percent, first.process_rss_bytes) == (150.0, 1024)
    assert first.occurred_at == T0
    second = sm.collect_metrics("collector")
    assert (second.net_bytes_in_per_s, second.net_bytes_out_per_s, second.interval_s) == (300.0, 100.0, 10.0)
    third = sm.collect_metrics("collector")
    assert (third.net_bytes_in_per_s, third.net_bytes_out_per_s) == (0.0, 0.0)
    assert probe.calls == [("/data", 42)] * 3


def test_counter_reset_and_stalled_clock_give_no_rate() -> None:
    probe = FakeProbe([raw(1000, 500), raw(10, 600), raw(20, 700)])
    ticks = clock(0, 5, 5)
    sm = SystemMetrics(host="h", probe=probe, clock=lambda: next(ticks))
    sm.collect_metrics("agent")
    reset = sm.collect_metrics("agent")
    assert (reset.net_bytes_in_per_s, reset.net_bytes_out_per_s) == (None, 20.0)
    stalled = sm.collect_metrics("agent")
    assert (stalled.net_bytes_in_per_s, stalled.interval_s) == (None, None)


def test_model_id_is_the_served_model_when_given() -> None:
    ticks = clock(0)
    sm = SystemMetrics(host="h", model_id="churn", probe=FakeProbe([raw(0, 0)]), clock=lambda: next(ticks))
    ev = sm.collect_metrics("model-server")
    assert (ev.model_id, ev.service, ev.pod) == ("churn", "model-server", None)


def test_bad_service_name_is_rejected_naming_the_field() -> None:
    sm = SystemMetrics(host="h", probe=FakeProbe([raw(0, 0)]), clock=lambda: T0)
    with pytest.raises(ValidationError, match="service\n  String should match pattern"):
        sm.collect_metrics("bad name")


def test_impossible_probe_values_are_rejected() -> None:
    sm = SystemMetrics(host="h", probe=FakeProbe([raw(0, 0, cpu=-1.0)]), clock=lambda: T0)
    with pytest.raises(ValidationError, match="cpu_percent\n  Input should be greater than or equal to 0"):
        sm.collect_metrics("agent")


def test_real_psutil_probe_reads_this_machine() -> None:
    sample = PsutilProbe().sample("/", os.getpid())
    assert 0 <= sample.memory_percent <= 100
    assert sample.disk_percent is not None
    assert 0 <= sample.disk_percent <= 100
    assert sample.net_bytes_recv >= 0
    assert sample.process_rss_bytes is not None
    assert sample.process_rss_bytes > 0
    ev = SystemMetrics(host="h", pid=os.getpid()).collect_metrics("unit-test")
    assert ev.process_rss_bytes is not None


def test_real_probe_handles_missing_process_and_disk() -> None:
    sample = PsutilProbe().sample("/no/such/path", 2**22 + 12345)
    assert (sample.disk_percent, sample.process_cpu_percent, sample.process_rss_bytes) == (None, None, None)


def test_find_pid() -> None:
    me = psutil.Process()
    pid = find_pid(me.name())
    assert pid is not None
    assert pid <= me.pid
    assert find_pid("no-such-process-mlmon-xyz") is None
