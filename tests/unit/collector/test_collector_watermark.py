from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlmon_collector.system import resource_values
from mlmon_collector.watermark import Watermark
from mlmon_common.events import ResourceEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_watermark_trails_the_newest_event() -> None:
    wm = Watermark(max_out_of_order_s=5)
    assert wm.current() is None
    wm.observe(at(10))
    assert wm.current() == at(5)
    wm.observe(at(3))  # out of order: no effect
    assert wm.current() == at(5)
    wm.observe(at(20))
    assert wm.current() == at(15)


def test_idle_rule_follows_the_wall_clock_and_never_moves_back() -> None:
    now = [at(100)]
    wm = Watermark(max_out_of_order_s=5, idle_s=30, clock=lambda: now[0])
    assert wm.current() == at(70)
    wm.observe(at(90))
    assert wm.current() == at(85)
    now[0] = at(200)
    assert wm.current() == at(170)
    now[0] = at(0)  # a clock step back does not move the watermark back
    assert wm.current() == at(170)


def test_watermark_bad_parameters() -> None:
    with pytest.raises(ValueError, match="max_out_of_order_s must be >= 0, got -1"):
        Watermark(max_out_of_order_s=-1)
    with pytest.raises(ValueError, match="idle_s must be >= 0, got -2"):
        Watermark(idle_s=-2)


def test_resource_values() -> None:
    ev = ResourceEvent(
        model_id="collector",
        service="collector",
        host="h",
        cpu_percent=12.5,
        memory_percent=40,
        disk_percent=70.5,
        net_bytes_in_per_s=300,
        net_bytes_out_per_s=None,
    )
    assert resource_values(ev) == {
        "cpu_percent": 12.5,
        "memory_percent": 40.0,
        "disk_percent": 70.5,
        "net_bytes_in_per_s": 300.0,
    }
