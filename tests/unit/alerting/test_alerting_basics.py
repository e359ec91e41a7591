"""Matchers, fingerprints, durations, time intervals, recommended actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mlmon_alerting.actions import ESCALATE, process_alert
from mlmon_alerting.durations import format_duration, parse_duration
from mlmon_alerting.fingerprint import fingerprint, group_fingerprint
from mlmon_alerting.matchers import Matcher, matches_all
from mlmon_alerting.mute import TimeInterval, active


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity!="info"', {}, True),
        ('model_id=~"churn|fraud"', {"model_id": "fraud"}, True),
        ('model_id=~"churn"', {"model_id": "churn-eu"}, False),  # anchored
        ('model_id!~"test-.*"', {"model_id": "test-1"}, False),
        ("team=", {}, True),  # missing label matches ""
        ('name="a \\"quoted\\" value"', {"name": 'a "quoted" value'}, True),
    ],
)
def test_matcher_semantics(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("severity", "bad matcher 'severity'"),
        ('1abc="x"', "bad matcher"),
        ('a=~"("', r"invalid regular expression '\('"),
        ('a=="x"', "bad matcher"),
    ],
)
def test_matcher_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Matcher.parse(text)


def test_matcher_roundtrip_and_all() -> None:
    m = Matcher.parse('a!~"x.*"')
    assert Matcher.parse(str(m)) == m
    assert matches_all([], {"a": "b"}) is True
    assert matches_all([Matcher("a", "=", "1"), Matcher("b", "!=", "2")], {"a": "1", "b": "3"}) is True
    with pytest.raises(ValueError, match="invalid matcher operator"):
        Matcher("a", "==", "1")  # type: ignore[arg-type]


def test_fingerprint_is_stable_and_order_free() -> None:
    assert fingerprint({"alertname": "ModelAccuracyLow", "model_id": "churn"}) == "599ccc63958b8a0d"
    assert fingerprint({}) == "e3b0c44298fc1c14"  # sha256 of nothing
    assert fingerprint({"a": "1b"}) != fingerprint({"a1": "b"})  # separator prevents collisions
    assert group_fingerprint("route.routes[0]", {"model_id": "m", "a": "x"}) == ("route.routes[0]:{a='x',model_id='m'}")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("4h", 14400.0), ("1d", 86400.0), ("1w", 604800.0), ("1m30s", 90.0),
     ("0s", 0.0), (12, 12.0), (0.5, 0.5), ("1.5h", 5400.0)],
)  # fmt: skip
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "5", "5 m", "-1s", -3, True, None, float("inf"), "1y"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 59, 3600, 90061)] == ["0s", "59s", "1h", "1d1h1m1s"]


def _t(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_time_interval_office_hours_in_paris() -> None:
    # 2026-11-27 is a Friday; Paris is UTC+1 in November.
    office = TimeInterval.build(times=[("09:00", "17:00")], weekdays=["monday:friday"], location="Europe/Paris")
    assert office.contains(_t(27, 7, 59)) is False  # 08:59 Paris
    assert office.contains(_t(27, 8, 0)) is True  # 09:00 Paris
    assert office.contains(_t(27, 15, 59)) is True
    assert office.contains(_t(27, 16, 0)) is False  # end exclusive
    assert office.contains(_t(28, 10)) is False  # Saturday


def test_time_interval_days_months_years() -> None:
    last_days = TimeInterval.build(days_of_month=["-2:-1"])
    assert [last_days.contains(_t(d, 12)) for d in (28, 29, 30)] == [False, True, True]
    winter = TimeInterval.build(months=["january:february", "11", "december"])
    assert winter.contains(_t(27, 12)) is True
    assert winter.contains(_t(1, 12, month=10)) is False
    assert TimeInterval.build(years=["2027"]).contains(_t(27, 12)) is False
    assert active([TimeInterval.build(years=["2027"]), TimeInterval.build()], _t(27, 12)) is True
    assert active([], _t(27, 12)) is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times": [("9:00", "8:00")]}, "must be before end_time"),
        ({"times": [("25:00", "26:00")]}, "invalid time '25:00'"),
        ({"times": [("nine", "10:00")]}, "expected HH:MM"),
        ({"weekdays": ["friday:monday"]}, "start after end"),
        ({"months": ["13"]}, "must be between 1 and 12"),
        ({"days_of_month": ["0x"]}, "invalid day of month '0x'"),
        ({"location": "Nowhere/City"}, "unknown location 'Nowhere/City'"),
    ],
)
def test_time_interval_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimeInterval.build(**kwargs)


def test_process_alert_actions_per_type() -> None:
    drift = process_alert({"alert_type": "data_drift", "severity": 2, "labels": {}})
    assert drift[0] == "check the input data pipeline for schema or upstream changes"
    assert ESCALATE not in drift
    perf = process_alert({"labels": {"alert_type": "performance_degraded", "alertname": "X"}, "severity": 1})
    assert "retrain the model on recent labelled data" in perf
    assert perf[-1] == ESCALATE
    disk = process_alert({"alert_type": "critical_resources", "alertname": "DiskUsageHigh", "severity": 3})
    assert disk[:2] == [
        "scale out the service (more replicas) or up (larger limits)",
        "free disk space: rotate logs, clean old model artifacts and caches",
    ]
    assert "roll back to the previous model version if the drop persists" in perf
    assert process_alert({"alert_type": "unknown", "labels": {}}) == ["investigate the alert and its runbook"]
