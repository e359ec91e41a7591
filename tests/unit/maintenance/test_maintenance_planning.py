from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlmon_common.events import AlertEvent, Severity
from mlmon_maintenance.approval import auto_approve, human_decision, manual_actions
from mlmon_maintenance.config import MaintenanceConfig
from mlmon_maintenance.planning import MaintenanceManager, ModelState, classify_alert

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
RECENT = {"retraining": NOW, "optimization": NOW, "backup": NOW, "cleanup": NOW}


def _alert(name: str, fp: str = "fp1", severity: Severity = Severity.WARNING, **kw: object) -> AlertEvent:
    args: dict[str, object] = {
        "model_id": "churn",
        "fingerprint": fp,
        "alertname": name,
        "status": "firing",
        "severity": severity,
        "labels": {"model_id": "churn"},
        "starts_at": NOW - timedelta(minutes=5),
        "value": 0.3,
    }
    args.update(kw)
    return AlertEvent(**args)  # type: ignore[arg-type]


def _mgr(**cfg: object) -> MaintenanceManager:
    return MaintenanceManager(MaintenanceConfig.model_validate(cfg))


@pytest.mark.parametrize(
    ("name", "labels", "recommended", "expected"),
    [
        ("DataDriftHigh", {}, [], "retraining"),
        ("AccuracyLow", {}, [], "retraining"),
        ("ModelPerformanceDegraded", {}, [], "retraining"),
        ("PredictionErrorRateHigh", {}, [], "investigation"),
        ("CpuHigh", {}, [], "optimization"),
        ("LatencyP95High", {}, [], "optimization"),
        ("DiskAlmostFull", {}, [], "cleanup"),
        ("Custom", {"category": "drift"}, [], "retraining"),
        ("DataDriftHigh", {}, ["backup"], "backup"),
        ("DataDriftHigh", {}, ["page someone"], "retraining"),
        ("Heartbeat", {}, [], None),
    ],
)
def test_classify_alert(name: str, labels: dict[str, str], recommended: list[str], expected: str | None) -> None:
    alert = _alert(name, labels=labels, recommended_actions=recommended)
    assert classify_alert(alert) == expected


def test_resource_alert_can_map_to_scaling() -> None:
    assert classify_alert(_alert("CpuHigh"), resource_action="scaling") == "scaling"


def test_drift_alert_gives_one_retraining_plan() -> None:
    plan = _mgr().schedule_maintenance(ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT), {}, NOW)
    assert plan is not None
    assert [a.type for a in plan.actions] == ["retraining"]
    assert plan.priority == 2
    assert plan.due_at == NOW
    assert plan.state == "proposed"
    assert [(r.source, r.name, r.ref) for r in plan.reasons] == [("alert", "DataDriftHigh", "fp1")]


def test_resolved_and_pending_alerts_ignored() -> None:
    alerts = [_alert("DataDriftHigh", status="resolved"), _alert("AccuracyLow", fp="fp2", status="pending")]
    assert _mgr().schedule_maintenance(ModelState("churn", alerts=alerts, last_runs=RECENT), {}, NOW) is None


def test_one_incident_many_alerts_one_plan() -> None:
    alerts = [
        _alert("DataDriftHigh", "fp1"),
        _alert("AccuracyLow", "fp2", Severity.CRITICAL),
        _alert("PredictionErrorRateHigh", "fp3", Severity.INFO),
        _alert("FeatureDrift", "fp4"),
    ]
    plan = _mgr().schedule_maintenance(ModelState("churn", alerts=alerts, last_runs=RECENT), {}, NOW)
    assert plan is not None
    assert [a.type for a in plan.actions] == ["retraining", "investigation"]
    assert plan.priority == 1
    assert len(plan.reasons) == 4


def test_replay_of_same_alerts_creates_no_second_plan() -> None:
    mgr = _mgr()
    state = ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT)
    first = mgr.schedule_maintenance(state, {}, NOW)
    assert first is not None
    again = ModelState("churn", alerts=[_alert("DataDriftHigh")], plans=[first], last_runs=RECENT)
    assert mgr.schedule_maintenance(again, {}, NOW + timedelta(seconds=3)) is None
    # still none once the plan finished, within cooldown
    done = first.approve("a", "", NOW).start("s", "", NOW).succeed("s", "", NOW + timedelta(hours=1), {})
    later = ModelState("churn", alerts=[_alert("DataDriftHigh")], plans=[done], last_runs=RECENT)
    assert mgr.schedule_maintenance(later, {}, NOW + timedelta(hours=2)) is None


def test_never_two_retrainings_in_flight() -> None:
    mgr = _mgr()
    first = mgr.schedule_maintenance(ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT), {}, NOW)
    assert first is not None
    running = first.approve("a", "", NOW).start("s", "", NOW)
    new_incident = [_alert("AccuracyLow", "fp9", starts_at=NOW + timedelta(hours=3))]
    state = ModelState("churn", alerts=new_incident, plans=[running], last_runs=RECENT)
    assert mgr.schedule_maintenance(state, {"data_drift": 0.5}, NOW + timedelta(hours=3)) is None


def test_in_flight_retraining_does_not_block_other_actions() -> None:
    mgr = _mgr()
    first = mgr.schedule_maintenance(ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT), {}, NOW)
    assert first is not None
    alerts = [_alert("DataDriftHigh"), _alert("PredictionErrorRateHigh", "fp2")]
    plan = mgr.schedule_maintenance(ModelState("churn", alerts=alerts, plans=[first], last_runs=RECENT), {}, NOW)
    assert plan is not None
    assert [a.type for a in plan.actions] == ["investigation"]


def test_cooldown_expires() -> None:
    mgr = _mgr(cooldown={"retraining": "2h"})
    first = mgr.schedule_maintenance(ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT), {}, NOW)
    assert first is not None
    cancelled = first.cancel("bob", "not now", NOW)
    alert = _alert("DataDriftHigh", "fp1", starts_at=NOW + timedelta(hours=1))
    state = ModelState("churn", alerts=[alert], plans=[cancelled], last_runs=RECENT)
    assert mgr.schedule_maintenance(state, {}, NOW + timedelta(hours=1, minutes=59)) is None
    plan = mgr.schedule_maintenance(state, {}, NOW + timedelta(hours=2))
    assert plan is not None
    assert plan.id != first.id


def test_thresholds() -> None:
    metrics = {"accuracy": 0.855, "data_drift": 0.1, "cpu_percent": 81.0, "memory_percent": 40.0, "error_rate": 0.01}
    state = ModelState("churn", last_runs=RECENT, baseline={"accuracy": 0.9})
    plan = _mgr().schedule_maintenance(state, metrics, NOW)
    assert plan is not None
    assert [(r.name, r.value, r.threshold, r.action) for r in plan.reasons] == [
        ("accuracy_drop", 0.05, 0.05, "retraining"),
        ("data_drift", 0.1, 0.1, "retraining"),
        ("resource_usage", 0.81, 0.8, "optimization"),
    ]
    assert [a.type for a in plan.actions] == ["retraining", "optimization"]
    assert plan.priority == 2


def test_below_thresholds_no_plan() -> None:
    metrics = {"accuracy": 0.856, "data_drift": 0.09, "cpu_percent": 79.9, "error_rate": 0.049}
    state = ModelState("churn", last_runs=RECENT, baseline={"accuracy": 0.9})
    assert _mgr().schedule_maintenance(state, metrics, NOW) is None


def test_accuracy_without_baseline_is_not_a_drop() -> None:
    assert _mgr().schedule_maintenance(ModelState("churn", last_runs=RECENT), {"accuracy": 0.1}, NOW) is None


def test_per_model_trigger_override() -> None:
    mgr = _mgr(models={"churn": {"triggers": {"data_drift": 0.5, "resource_action": "scaling"}}})
    state = ModelState("churn", last_runs=RECENT)
    assert mgr.schedule_maintenance(state, {"data_drift": 0.4}, NOW) is None
    plan = mgr.schedule_maintenance(state, {"cpu_percent": 95.0}, NOW)
    assert plan is not None
    assert [a.type for a in plan.actions] == ["scaling"]


def test_metric_plans_same_window_dedupe() -> None:
    mgr = _mgr()
    state = ModelState("churn", last_runs=RECENT)
    a = mgr.schedule_maintenance(state, {"error_rate": 0.2}, NOW)
    b = mgr.schedule_maintenance(state, {"error_rate": 0.2}, NOW + timedelta(minutes=1))
    assert a is not None
    assert b is not None
    assert a.id == b.id
    assert mgr.schedule_maintenance(ModelState("churn", plans=[a], last_runs=RECENT), {"error_rate": 0.3}, NOW) is None


def test_schedules_due() -> None:
    last = {
        "retraining": NOW - timedelta(days=7),
        "optimization": NOW - timedelta(days=29),
        "backup": NOW - timedelta(days=2),
        "cleanup": NOW - timedelta(hours=1),
    }
    plan = _mgr().schedule_maintenance(ModelState("churn", last_runs=last), {}, NOW)
    assert plan is not None
    assert [a.type for a in plan.actions] == ["retraining", "backup"]
    assert plan.priority == 4
    assert plan.due_at == NOW - timedelta(days=1)
    assert [r.name for r in plan.reasons] == ["every 7 days, 0:00:00", "every 1 day, 0:00:00"]


def test_never_run_actions_are_due_now_and_disabled_skipped() -> None:
    mgr = _mgr(schedules={"optimization": None, "cleanup": None})
    plan = mgr.schedule_maintenance(ModelState("churn"), {}, NOW)
    assert plan is not None
    assert [a.type for a in plan.actions] == ["retraining", "backup"]
    assert plan.due_at == NOW


def test_scheduled_action_skipped_while_in_flight_and_schedule_replay_dedupes() -> None:
    mgr = _mgr()
    last = {**RECENT, "backup": NOW - timedelta(days=1)}
    first = mgr.schedule_maintenance(ModelState("churn", last_runs=last), {}, NOW)
    assert first is not None
    assert mgr.schedule_maintenance(ModelState("churn", last_runs=last, plans=[first]), {}, NOW) is None
    done = first.approve("policy", "", NOW).start("s", "", NOW).succeed("s", "", NOW, {})
    # the caller did not update last_runs yet: same due time -> same id -> no duplicate
    assert mgr.schedule_maintenance(ModelState("churn", last_runs=last, plans=[done]), {}, NOW) is None


def test_approval_policy() -> None:
    cfg = MaintenanceConfig.model_validate({"models": {"fraud": {"approval": {"retraining": "auto"}}}})
    mgr = MaintenanceManager(cfg)
    churn = mgr.schedule_maintenance(ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT), {}, NOW)
    fraud_alert = _alert("DataDriftHigh", model_id="fraud")
    fraud = mgr.schedule_maintenance(ModelState("fraud", alerts=[fraud_alert], last_runs=RECENT), {}, NOW)
    backup = mgr.schedule_maintenance(
        ModelState("churn", last_runs={**RECENT, "backup": NOW - timedelta(days=1)}), {}, NOW
    )
    assert churn is not None
    assert fraud is not None
    assert backup is not None
    assert manual_actions(churn, cfg) == ["retraining"]
    assert auto_approve(churn, cfg, NOW) is churn
    approved = auto_approve(fraud, cfg, NOW)
    assert approved.state == "approved"
    assert approved.history[-1].actor == "policy"
    assert approved.history[-1].why == "policy: auto approval for retraining"
    assert auto_approve(backup, cfg, NOW).state == "approved"
    assert auto_approve(approved, cfg, NOW) is approved


def test_human_decision() -> None:
    cfg = MaintenanceConfig()
    plan = MaintenanceManager(cfg).schedule_maintenance(
        ModelState("churn", alerts=[_alert("DataDriftHigh")], last_runs=RECENT), {}, NOW
    )
    assert plan is not None
    ok = human_decision(plan, "approve", "alice", "drift confirmed on dashboard", NOW)
    assert (ok.state, ok.history[-1].actor, ok.history[-1].why) == ("approved", "alice", "drift confirmed on dashboard")
    assert human_decision(plan, "cancel", "bob", "", NOW).history[-1].why == "cancelled"
    with pytest.raises(ValueError, match="decision: must be 'approve' or 'cancel', got 'maybe'"):
        human_decision(plan, "maybe", "bob", "", NOW)
    with pytest.raises(ValueError, match="actor: who approves or cancels must be named"):
        human_decision(plan, "approve", "  ", "", NOW)
