from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mlmon_common.events import MaintenanceEvent, decode_event
from mlmon_maintenance.plans import Action, IllegalTransitionError, MaintenancePlan, Reason, make_plan_id

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _plan(**kw: object) -> MaintenancePlan:
    args: dict[str, object] = {
        "model_id": "churn",
        "actions": [Action(type="retraining")],
        "priority": 2,
        "reasons": [Reason(source="metric", name="data_drift", action="retraining", value=0.25, threshold=0.1)],
        "due_at": T0,
        "now": T0,
        "key": "k1",
    }
    args.update(kw)
    return MaintenancePlan.propose(**args)  # type: ignore[arg-type]


def test_propose_records_audit_and_stable_id() -> None:
    plan = _plan()
    assert plan.state == "proposed"
    assert plan.id == make_plan_id("churn", ["retraining"], "k1")
    assert plan.id == _plan().id
    assert plan.id != _plan(key="k2").id
    assert len(plan.history) == 1
    entry = plan.history[0]
    assert (entry.actor, entry.from_state, entry.to_state, entry.at) == ("planner", None, "proposed", T0)
    assert entry.why == "metric:data_drift 0.25 vs 0.1 -> retraining"


def test_happy_path_keeps_full_audit_trail() -> None:
    plan = _plan()
    plan = plan.approve("alice", "drift confirmed", T0 + timedelta(minutes=1))
    plan = plan.start("maintenance", "executor command", T0 + timedelta(minutes=2))
    plan = plan.succeed("maintenance", "verified", T0 + timedelta(minutes=9), {"accuracy_after": 0.93})
    assert plan.state == "succeeded"
    assert [(h.from_state, h.to_state, h.actor) for h in plan.history] == [
        (None, "proposed", "planner"),
        ("proposed", "approved", "alice"),
        ("approved", "running", "maintenance"),
        ("running", "succeeded", "maintenance"),
    ]
    assert plan.history[1].why == "drift confirmed"
    assert plan.finished_at == T0 + timedelta(minutes=9)
    assert plan.result == {"accuracy_after": 0.93}
    assert not plan.in_flight


def test_transitions_do_not_mutate() -> None:
    plan = _plan()
    plan.approve("alice", "ok", T0)
    assert plan.state == "proposed"
    assert len(plan.history) == 1


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        ([], "running", "approved, cancelled"),
        ([], "succeeded", "approved, cancelled"),
        (["approved"], "failed", "running, cancelled"),
        (["approved"], "proposed", "running, cancelled"),
        (["approved", "running", "succeeded"], "cancelled", "none, it is final"),
        (["cancelled"], "approved", "none, it is final"),
        (["approved", "running", "failed"], "running", "none, it is final"),
    ],
)
def test_illegal_transitions_raise(path: list[str], target: str, allowed: str) -> None:
    plan = _plan()
    for state in path:
        plan = plan.transition(state, "x", "", T0)  # type: ignore[arg-type]
    with pytest.raises(IllegalTransitionError) as info:
        plan.transition(target, "bob", "", T0)  # type: ignore[arg-type]
    assert str(info.value) == (f"plan {plan.id} cannot go from {plan.state!r} to {target!r} (allowed: {allowed})")


def test_cancel_from_running_and_fail_result_merged() -> None:
    plan = _plan().approve("a", "", T0).start("s", "", T0)
    assert plan.cancel("bob", "wrong model", T0).state == "cancelled"
    failed = plan.fail("s", "exit 2", T0, {"exit_code": 2})
    assert failed.result == {"exit_code": 2}
    assert failed.history[-1].why == "exit 2"


def test_to_event_is_a_valid_maintenance_event() -> None:
    plan = _plan().approve("alice", "go", T0 + timedelta(seconds=5))
    ev = plan.to_event()
    assert isinstance(ev, MaintenanceEvent)
    assert ev.plan_id == plan.id
    assert ev.model_id == "churn"
    assert ev.state == "approved"
    assert ev.actions == ["retraining"]
    assert ev.priority == 2
    assert ev.actor == "alice"
    assert ev.occurred_at == T0 + timedelta(seconds=5)
    assert ev.reason == "metric:data_drift 0.25 vs 0.1 -> retraining"
    assert ev.result == {"why": "go", "due_at": "2026-03-01T12:00:00+00:00"}
    assert decode_event(ev.to_json()) == ev
    assert plan.to_event().event_id == ev.event_id
    assert _plan().to_event().event_id != ev.event_id


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"actions": []}, "actions"),
        ({"priority": 0}, "priority"),
        ({"priority": 6}, "priority"),
        ({"model_id": "has space"}, "model_id"),
        ({"due_at": datetime(2026, 1, 1)}, "due_at"),  # naive on purpose
    ],
)
def test_bad_plan_fields_rejected(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        _plan(**kw)
    assert field in str(info.value)


def test_unknown_action_type_rejected() -> None:
    with pytest.raises(ValidationError, match="type"):
        Action(type="reboot")  # type: ignore[arg-type]


def test_plan_roundtrips_json() -> None:
    plan = _plan().approve("alice", "ok", T0)
    assert MaintenancePlan.model_validate_json(plan.model_dump_json()) == plan
