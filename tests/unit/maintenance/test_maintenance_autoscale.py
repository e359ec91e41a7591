from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mlmon_maintenance.autoscale import ScaleHistory, ScaleMetrics, ScalePolicy, ServiceStatus, auto_scale, recommend

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
POLICY = ScalePolicy()  # min 1, max 10, cpu 0.7, lag 1000/replica, tolerance 0.1, 5 min window, 1/5 min cooldowns


def _at(s: int) -> datetime:
    return T0 + timedelta(seconds=s)


@pytest.mark.parametrize(
    ("current", "metrics", "expected", "reason"),
    [
        (2, ScaleMetrics(cpu=0.9), 3, "cpu 0.9 vs target 0.7 -> 3"),  # ceil(2 * 0.9/0.7 = 2.571)
        (4, ScaleMetrics(cpu=1.4), 8, "cpu 1.4 vs target 0.7 -> 8"),  # ceil(4 * 2.0)
        (4, ScaleMetrics(cpu=0.35), 2, "cpu 0.35 vs target 0.7 -> 2"),  # ceil(4 * 0.5)
        (4, ScaleMetrics(cpu=0.76), 4, "cpu 0.76 vs target 0.7 -> 4"),  # ratio 1.086 within tolerance
        (4, ScaleMetrics(cpu=0.64), 4, "cpu 0.64 vs target 0.7 -> 4"),  # ratio 0.914 within tolerance
        (4, ScaleMetrics(cpu=0.78), 5, "cpu 0.78 vs target 0.7 -> 5"),  # ratio 1.114: ceil(4.457)
        (2, ScaleMetrics(lag=5000), 5, "lag/replica 2500 vs target 1000 -> 5"),  # ceil(2 * 2.5)
        (3, ScaleMetrics(lag=1000), 1, "lag/replica 333.333 vs target 1000 -> 1"),  # ceil(3 * 0.333)
        (0, ScaleMetrics(lag=2500), 3, "lag/replica 2500 vs target 1000 -> 3"),  # from zero: ceil(2500/1000)
        (2, ScaleMetrics(cpu=0.9, lag=5000), 5, "lag/replica 2500 vs target 1000 -> 5"),  # max wins
        (2, ScaleMetrics(cpu=2.1, lag=100), 6, "cpu 2.1 vs target 0.7 -> 6"),
        (4, ScaleMetrics(), 4, "no metrics"),
        (2, ScaleMetrics(cpu=7.0), 10, "cpu 7 vs target 0.7 -> 20, clamped to 10"),
        (2, ScaleMetrics(cpu=0.01), 1, "cpu 0.01 vs target 0.7 -> 1"),
        (3, ScaleMetrics(lag=0), 1, "lag/replica 0 vs target 1000 -> 0, clamped to 1"),
    ],
)
def test_recommend_hpa_formula(current: int, metrics: ScaleMetrics, expected: int, reason: str) -> None:
    assert recommend(current, metrics, POLICY) == (expected, reason)


def test_min_replicas_floor() -> None:
    policy = ScalePolicy(min_replicas=3, max_replicas=5)
    assert recommend(4, ScaleMetrics(cpu=0.1), policy) == (3, "cpu 0.1 vs target 0.7 -> 1, clamped to 3")


def test_scale_up_immediately() -> None:
    d = auto_scale(ServiceStatus("collector", 2), ScaleMetrics(cpu=1.4), POLICY, ScaleHistory(), T0)
    assert (d.current, d.desired, d.changed) == (2, 4, True)
    assert d.history.last_change_at == T0
    assert d.history.last_direction == "up"
    assert d.history.recommendations == ((T0, 4),)


def test_no_change_keeps_last_change_time() -> None:
    h = ScaleHistory(last_change_at=T0, last_direction="up")
    d = auto_scale(ServiceStatus("c", 4), ScaleMetrics(cpu=0.7), POLICY, h, _at(30))
    assert not d.changed
    assert d.history.last_change_at == T0
    assert d.history.last_direction == "up"


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    svc = ServiceStatus("c", 8)
    h = ScaleHistory(last_change_at=T0 - timedelta(hours=1), last_direction="up")
    # at t=0 the load needs 8; then it drops to 2 replicas' worth
    d = auto_scale(svc, ScaleMetrics(cpu=0.7), POLICY, h, T0)
    assert d.desired == 8
    for s in (60, 120, 240, 299):
        d = auto_scale(svc, ScaleMetrics(cpu=0.175), POLICY, d.history, _at(s))
        assert d.desired == 8, s
        assert d.recommended == 2
        assert d.reason == "cpu 0.175 vs target 0.7 -> 2; held at 8 by the 0:05:00 stabilisation window"
    d = auto_scale(svc, ScaleMetrics(cpu=0.175), POLICY, d.history, _at(300))
    assert (d.desired, d.changed) == (2, True)
    assert d.history.last_direction == "down"


def test_stabilisation_goes_down_to_the_highest_recent_recommendation() -> None:
    svc = ServiceStatus("c", 8)
    h = ScaleHistory(recommendations=((_at(-200), 6), (_at(-100), 4)), last_change_at=_at(-3600))
    d = auto_scale(svc, ScaleMetrics(cpu=0.175), POLICY, h, T0)
    assert (d.recommended, d.desired) == (2, 6)
    assert d.history.recommendations == ((_at(-200), 6), (_at(-100), 4), (T0, 2))
    d = auto_scale(ServiceStatus("c", 6), ScaleMetrics(cpu=0.175), POLICY, d.history, _at(101))
    # 6 left the window (older than 5 min): next highest is 4, but scale-down cooldown (5 min) holds
    assert d.desired == 6
    assert d.reason.endswith("scale-down in cooldown until 12:05:00")


def test_scale_up_cooldown() -> None:
    h = ScaleHistory(last_change_at=T0, last_direction="up")
    d = auto_scale(ServiceStatus("c", 4), ScaleMetrics(cpu=1.4), POLICY, h, _at(59))
    assert (d.desired, d.recommended) == (4, 8)
    assert d.reason == "cpu 1.4 vs target 0.7 -> 8; scale-up in cooldown until 12:01:00"
    assert d.history.last_change_at == T0
    d = auto_scale(ServiceStatus("c", 4), ScaleMetrics(cpu=1.4), POLICY, d.history, _at(60))
    assert d.desired == 8


def test_bounds_respected_over_a_ramp() -> None:
    policy = ScalePolicy(min_replicas=2, max_replicas=6, scale_up_cooldown=timedelta(0))
    svc, h = ServiceStatus("c", 2), ScaleHistory()
    seen = []
    for i, cpu in enumerate([1.5, 1.5, 1.5, 1.5]):
        d = auto_scale(svc, ScaleMetrics(cpu=cpu), policy, h, _at(i * 30))
        svc, h = ServiceStatus("c", d.desired), d.history
        seen.append(d.desired)
    assert seen == [5, 6, 6, 6]  # ceil(2*1.5/0.7)=5, ceil(5*2.14)=11 -> max 6


def test_flapping_load_does_not_flap_replicas() -> None:
    """CPU alternating high/low every 30 s for 20 minutes: at most one change per cooldown, never down."""
    svc, h = ServiceStatus("c", 4), ScaleHistory()
    changes = []
    for i in range(40):
        cpu = 0.9 if i % 2 == 0 else 0.3
        d = auto_scale(svc, ScaleMetrics(cpu=cpu), POLICY, h, _at(i * 30))
        if d.changed:
            changes.append((i * 30, d.current, d.desired))
        svc, h = ServiceStatus("c", d.desired), d.history
    # up 4->6 at t=0 (ceil(4*1.286)), 6->8 at 60s, 8->11 capped 10 at 120s; the dips never shrink it
    assert changes == [(0, 4, 6), (60, 6, 8), (120, 8, 10)]


def test_bad_policy() -> None:
    with pytest.raises(ValidationError, match=r"min_replicas \(5\) > max_replicas \(2\)"):
        ScalePolicy(min_replicas=5, max_replicas=2)
    with pytest.raises(ValidationError, match="target_cpu"):
        ScalePolicy(target_cpu=0)
    with pytest.raises(ValidationError, match="tolerance"):
        ScalePolicy(tolerance=1.5)
