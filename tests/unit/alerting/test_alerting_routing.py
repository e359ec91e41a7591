"""Route tree matching and inheritance, inhibition, silences, dispatcher details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mlmon_alerting.config import InhibitRule, RootRoute
from mlmon_alerting.grouping import Dispatcher
from mlmon_alerting.inhibit import Inhibitor
from mlmon_alerting.mute import TimeInterval
from mlmon_alerting.routing import build_tree
from mlmon_alerting.silences import Silence, silenced_by

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

TREE = build_tree(
    RootRoute.model_validate(
        {
            "receiver": "default",
            "group_by": ["alertname"],
            "group_wait": "10s",
            "routes": [
                {
                    "matchers": ['team="ml"'],
                    "receiver": "ml",
                    "group_interval": "1m",
                    "routes": [
                        {"matchers": ['severity="critical"'], "receiver": "ml-pager", "group_by": ["..."]},
                    ],
                },
                {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True, "group_wait": 0},
                {"matchers": ['model_id=~"churn.*"'], "receiver": "churn-team", "group_by": []},
                {"matchers": ['model_id=~"churn.*"'], "receiver": "never-reached"},
            ],
        }
    )
)


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "ml"}, ["ml"]),
        ({"team": "ml", "severity": "critical"}, ["ml-pager"]),  # first match wins, no continue
        ({"severity": "critical", "model_id": "churn"}, ["pager", "churn-team"]),  # continue
        ({"severity": "critical"}, ["pager"]),
        ({"model_id": "churn-eu"}, ["churn-team"]),
        ({"model_id": "fraud"}, ["default"]),
    ],
)
def test_route_matching(labels: dict[str, str], receivers: list[str]) -> None:
    assert [r.receiver for r in TREE.match(labels)] == receivers


def test_inheritance_and_ids() -> None:
    nodes = {n.id: n for n in TREE.walk()}
    assert list(nodes) == [
        "route",
        "route.routes[0]",
        "route.routes[0].routes[0]",
        "route.routes[1]",
        "route.routes[2]",
        "route.routes[3]",
    ]
    ml_pager = nodes["route.routes[0].routes[0]"]
    assert (ml_pager.group_wait, ml_pager.group_interval, ml_pager.repeat_interval) == (10.0, 60.0, 14400.0)
    assert ml_pager.group_labels({"a": "1", "b": "2"}) == {"a": "1", "b": "2"}
    assert nodes["route.routes[1]"].group_wait == 0.0
    assert nodes["route.routes[2]"].group_labels({"model_id": "churn"}) == {}
    assert nodes["route"].group_labels({"model_id": "x"}) == {}  # missing group_by label is left out


def test_inhibitor_equal_and_self() -> None:
    rule = InhibitRule(source_matchers=['severity="critical"'], target_matchers=['severity=~"critical|warning"'],
                       equal=["model_id", "cluster"])  # fmt: skip
    inh = Inhibitor([rule])
    crit = {"alertname": "A", "severity": "critical", "model_id": "m"}
    warn = {"alertname": "B", "severity": "warning", "model_id": "m"}
    assert inh.inhibited_by(warn, [crit]) == crit  # "cluster" missing on both: equal
    assert inh.inhibited(crit, [crit]) is False  # never inhibits itself
    assert inh.inhibited({**warn, "cluster": "eu"}, [crit]) is False
    assert inh.inhibited({**warn, "severity": "info"}, [crit]) is False
    assert Inhibitor([]).inhibited(warn, [crit]) is False


def silence(**kw: object) -> Silence:
    data: dict[str, object] = {
        "id": "s1",
        "matchers": ['model_id="churn"'],
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=1),
        "created_by": "ana",
        "comment": "retraining",
        **kw,
    }
    return Silence.model_validate(data)


def test_silence_states_and_expiry() -> None:
    s = silence(starts_at=T0 + timedelta(minutes=10))
    assert [s.state(T0), s.state(T0 + timedelta(minutes=10)), s.state(T0 + timedelta(hours=2))] == [
        "pending",
        "active",
        "expired",
    ]
    early = s.expire(T0)
    assert (early.starts_at, early.ends_at, early.updated_at) == (T0, T0, T0)
    assert early.state(T0) == "expired"
    running = silence().expire(T0 + timedelta(minutes=5))
    assert (running.starts_at, running.ends_at) == (T0, T0 + timedelta(minutes=5))
    assert running.expire(T0 + timedelta(hours=3)) is running
    assert silenced_by({"model_id": "churn"}, [silence(), silence(id="s2", matchers=['x="y"'])], T0) == ["s1"]
    assert silenced_by({"model_id": "churn"}, [silence()], T0 + timedelta(hours=1)) == []


def test_silence_json_roundtrip_keeps_matchers_as_strings() -> None:
    s = silence(matchers=['model_id=~"churn|fraud"', 'severity!="info"'])
    data = s.model_dump(mode="json")
    assert data["matchers"] == ['model_id=~"churn|fraud"', 'severity!="info"']
    assert Silence.model_validate_json(s.model_dump_json()) == s


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"matchers": []}, "matchers\n  List should have at least 1 item"),
        ({"matchers": ['model_id=~".*"']}, "at least one matcher must not match the empty string"),
        ({"matchers": ["nope"]}, "bad matcher 'nope'"),
        ({"ends_at": T0 - timedelta(seconds=1)}, "ends_at must not be before starts_at"),
        ({"created_by": ""}, "created_by\n  String should have at least 1 character"),
        ({"comment": "  "}, "created_by and comment must not be blank"),
        ({"starts_at": datetime(2026, 1, 1)}, "starts_at\n  Input should have timezone info"),
    ],
)
def test_silence_validation(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        silence(**kw)
    assert message in str(err.value)


def firing_state(fp: str, labels: dict[str, str], status: str = "firing") -> dict[str, object]:
    return {
        "fingerprint": fp, "alertname": labels.get("alertname", "A"), "labels": labels, "annotations": {},
        "status": status, "starts_at": T0.isoformat(), "ends_at": None, "severity": 1, "value": 1.0,
    }  # fmt: skip


def test_dispatcher_ignores_pending_and_never_fired_and_reports_wakeup() -> None:
    d = Dispatcher(TREE)
    assert d.next_wakeup() is None
    assert d.insert({**firing_state("a", {}), "status": "pending"}, T0) == []
    assert d.insert({**firing_state("a", {}), "starts_at": None, "status": "resolved"}, T0) == []
    keys = d.insert(firing_state("a", {"alertname": "A", "severity": "critical"}), T0)
    assert keys == ["route.routes[1]:{alertname='A'}"]
    assert d.next_wakeup() == T0  # group_wait 0 on the pager route
    assert d.due(T0 - timedelta(seconds=1)) == []
    (note,) = d.due(T0)
    assert (note.receiver, note.status, note.route_id) == ("pager", "firing", "route.routes[1]")
    assert d.next_wakeup() == T0 + timedelta(minutes=5)


def test_dispatcher_active_time_intervals_and_restored_groups() -> None:
    tree = build_tree(RootRoute.model_validate(
        {"receiver": "r", "group_wait": 0, "routes": [{"receiver": "r", "active_time_intervals": ["sat"]}]}
    ))  # fmt: skip
    d = Dispatcher(tree, {"sat": [TimeInterval.build(weekdays=["saturday"])]})
    d.insert(firing_state("a", {"alertname": "A", "model_id": "m"}), T0)
    assert d.due(T0) == []  # Friday: outside the active interval
    restored = Dispatcher(tree, {"sat": [TimeInterval.build(weekdays=["saturday"])]}, groups=d.groups)
    (note,) = restored.due(T0 + timedelta(days=1))
    assert note.alerts[0]["fingerprint"] == "a"
