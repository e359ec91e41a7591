from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from mlmon_maintenance.config import MaintenanceConfig, parse_duration


def test_seed_defaults() -> None:
    cfg = MaintenanceConfig()
    policy = cfg.for_model("any")
    assert policy.schedules.retraining == timedelta(days=7)
    assert policy.schedules.optimization == timedelta(days=30)
    assert policy.schedules.backup == timedelta(days=1)
    assert policy.schedules.cleanup == timedelta(days=1)
    assert (policy.triggers.performance_drop, policy.triggers.resource_usage, policy.triggers.data_drift) == (
        0.05,
        0.8,
        0.1,
    )
    assert policy.approval["backup"] == "auto"
    assert policy.approval["cleanup"] == "auto"
    assert policy.approval["retraining"] == "manual"
    assert policy.executor == "command"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_duration_short_forms(raw: str, expected: timedelta) -> None:
    assert parse_duration(raw) == expected


def test_durations_accept_seconds_and_iso() -> None:
    cfg = MaintenanceConfig.model_validate({"schedules": {"retraining": 3600, "backup": "P2D", "cleanup": None}})
    assert cfg.schedules.retraining == timedelta(hours=1)
    assert cfg.schedules.backup == timedelta(days=2)
    assert cfg.schedules.cleanup is None
    assert cfg.schedules.interval("cleanup") is None


def test_partial_approval_keeps_defaults() -> None:
    cfg = MaintenanceConfig.model_validate({"approval": {"retraining": "auto"}})
    assert cfg.approval["retraining"] == "auto"
    assert cfg.approval["backup"] == "auto"
    assert cfg.approval["investigation"] == "manual"


def test_per_model_override_only_touches_that_model() -> None:
    cfg = MaintenanceConfig.model_validate(
        {
            "models": {
                "churn": {
                    "schedules": {"retraining": "1d"},
                    "triggers": {"data_drift": 0.3},
                    "approval": {"retraining": "auto"},
                    "executor": "k8s_job",
                }
            }
        }
    )
    churn, other = cfg.for_model("churn"), cfg.for_model("fraud")
    assert churn.schedules.retraining == timedelta(days=1)
    assert churn.schedules.backup == timedelta(days=1)
    assert churn.triggers.data_drift == 0.3
    assert churn.triggers.performance_drop == 0.05
    assert churn.approval["retraining"] == "auto"
    assert churn.executor == "k8s_job"
    assert other.schedules.retraining == timedelta(days=7)
    assert other.approval["retraining"] == "manual"
    assert other.executor == "command"


def test_bad_override_names_the_model_and_field() -> None:
    with pytest.raises(
        ValidationError,
        match=r"maintenance\.models\.churn\.triggers\.data_drift: Input should be less than or equal to 1",
    ):
        MaintenanceConfig.model_validate({"models": {"churn": {"triggers": {"data_drift": 3}}}})


def test_unknown_field_in_override_rejected() -> None:
    with pytest.raises(
        ValidationError, match=r"maintenance\.models\.churn\.schedules\.nope: Extra inputs are not permitted"
    ):
        MaintenanceConfig.model_validate({"models": {"churn": {"schedules": {"nope": "1d"}}}})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"triggers": {"data_drift": 2}}, "triggers.data_drift"),
        ({"triggers": {"performance_drop": 0}}, "triggers.performance_drop"),
        ({"approval": {"retrain": "auto"}}, "approval.retrain"),
        ({"approval": {"backup": "sometimes"}}, "approval.backup"),
        ({"verification": {"margin": -0.1}}, "verification.margin"),
        ({"executors": {"default": "ssh"}}, "executors.default"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_values_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        MaintenanceConfig.model_validate(raw)
    assert field in str(info.value)


def test_negative_schedule_rejected() -> None:
    with pytest.raises(ValidationError, match=r"schedules\.backup must be a positive duration"):
        MaintenanceConfig.model_validate({"schedules": {"backup": -60}})


def test_webhook_executor_needs_url_and_secret() -> None:
    with pytest.raises(ValidationError, match=r"executors\.webhook\.url and executors\.webhook\.secret"):
        MaintenanceConfig.model_validate({"executors": {"per_action": {"retraining": "webhook"}}})
    ok = MaintenanceConfig.model_validate(
        {"executors": {"default": "webhook", "webhook": {"url": "https://ci.example/hook", "secret": "s3cr3t"}}}
    )
    assert ok.executors.webhook.secret is not None
    assert "s3cr3t" not in repr(ok)
