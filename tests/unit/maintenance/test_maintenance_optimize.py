from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mlmon_maintenance.config import MaintenanceConfig
from mlmon_maintenance.maintain import HealthCheck, auto_maintain
from mlmon_maintenance.optimize import ModelRuntime, OptimizeBudget, Recommendation, auto_optimize
from mlmon_maintenance.planning import MaintenanceManager, ModelState

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_within_budget_no_recommendation() -> None:
    rt = ModelRuntime("churn", false_alarms=1, detector_threshold=0.1, latency_p95_s=0.2, cpu=0.3, batch_size=8)
    assert auto_optimize(rt) == []


def test_noisy_detector_threshold_raised_in_proportion() -> None:
    rt = ModelRuntime("churn", period_days=2, false_alarms=3, detector_threshold=0.1)
    assert auto_optimize(rt) == [
        Recommendation("churn", "drift.threshold", 0.1, 0.15, "1.5 false alarms/day > budget 1")
    ]


def test_threshold_step_capped() -> None:
    rt = ModelRuntime("churn", false_alarms=30, detector_threshold=0.1)
    (rec,) = auto_optimize(rt, OptimizeBudget(false_alarms_per_day=2))
    assert (rec.recommended, rec.reason) == (0.2, "30 false alarms/day > budget 2")


def test_high_latency_with_spare_cpu_smaller_batches_more_workers() -> None:
    rt = ModelRuntime("churn", latency_p95_s=0.5, cpu=0.2, batch_size=32, replicas=2)
    assert auto_optimize(rt) == [
        Recommendation(
            "churn", "batch_size", 32, 16, "latency p95 0.5s > 0.2s with spare cpu 0.2: smaller batches wait less"
        ),
        Recommendation("churn", "replicas", 2, 5, "latency p95 0.5s > 0.2s (spare cpu: more workers)"),
    ]


def test_high_latency_cpu_bound_replicas_capped() -> None:
    rt = ModelRuntime("churn", latency_p95_s=0.9, cpu=0.95, batch_size=32, replicas=3)
    assert auto_optimize(rt, OptimizeBudget(max_replicas=8)) == [
        Recommendation("churn", "replicas", 3, 8, "latency p95 0.9s > 0.2s (cpu-bound: more compute)")
    ]


def test_latency_at_max_replicas_only_batch() -> None:
    rt = ModelRuntime("churn", latency_p95_s=0.3, cpu=0.1, batch_size=3, replicas=10)
    assert [(r.parameter, r.recommended) for r in auto_optimize(rt)] == [("batch_size", 1)]


def test_bad_budget() -> None:
    with pytest.raises(ValidationError, match="false_alarms_per_day"):
        OptimizeBudget(false_alarms_per_day=0)
    with pytest.raises(ValidationError, match="max_threshold_step"):
        OptimizeBudget(max_threshold_step=1)


def test_auto_maintain_auto_approves_backup_but_not_retraining() -> None:
    mgr = MaintenanceManager(MaintenanceConfig())
    recent = {"retraining": NOW, "optimization": NOW, "cleanup": NOW, "backup": NOW - timedelta(days=1)}
    backup = auto_maintain(ModelState("churn", last_runs=recent), HealthCheck("churn"), mgr, NOW)
    assert backup is not None
    assert (backup.state, [a.type for a in backup.actions]) == ("approved", ["backup"])
    recent["backup"] = NOW
    drift = auto_maintain(ModelState("churn", last_runs=recent), HealthCheck("churn", {"data_drift": 0.4}), mgr, NOW)
    assert drift is not None
    assert (drift.state, [a.type for a in drift.actions]) == ("proposed", ["retraining"])
    assert auto_maintain(ModelState("churn", last_runs=recent), HealthCheck("churn"), mgr, NOW) is None


def test_auto_maintain_rejects_other_models_health() -> None:
    with pytest.raises(ValueError, match=r"health_check\.model_id: 'fraud' is not the model 'churn'"):
        auto_maintain(ModelState("churn"), HealthCheck("fraud"), MaintenanceManager(MaintenanceConfig()), NOW)
