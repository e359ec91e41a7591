"""Config loading: the shipped example loads; every bad config fails naming file, path and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlmon_alerting.config import ConfigError, Thresholds, load_config, parse_config
from mlmon_common.events import Severity

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[2] / "services" / "alerting" / "config.example.yml"
BAD = sorted((HERE / "bad_configs").glob("*.yml"))
ENV = {
    "MLMON_SMTP_PASSWORD": "pw",
    "MLMON_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X",
    "MLMON_PAGERDUTY_ROUTING_KEY": "rk",
    "MLMON_WEBHOOK_SECRET": "s3cret",
}
MINIMAL = "route: {receiver: ops}\nreceivers: [{name: ops}]\n"


def test_example_config_loads_with_secrets_from_env() -> None:
    cfg = load_config(EXAMPLE, env=ENV)
    assert cfg.thresholds.defaults == Thresholds()
    assert cfg.thresholds.resolve("fraud-detector").accuracy_min == 0.98
    assert cfg.rules["accuracy_min"].for_ == 600.0
    assert cfg.rules["accuracy_min"].for_windows == 2
    assert cfg.rules["cpu_max"].severity is Severity.INFO
    assert cfg.rules["latency_max"].alertname == "ModelLatencyHigh"  # partial entry keeps defaults
    assert cfg.route.routes[0].group_wait == 0.0
    assert cfg.route.routes[0].continue_ is True
    slack = cfg.receiver("ops-team").slack_configs[0]
    assert slack.api_url.get_secret_value() == ENV["MLMON_SLACK_WEBHOOK_URL"]
    assert "hooks.slack.com" not in repr(slack)
    assert sorted(cfg.intervals()) == ["office-hours", "weekends"]


def test_example_without_env_names_every_missing_secret() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(EXAMPLE, env={})
    paths = [p for p, _ in err.value.problems]
    assert paths == [
        "alerting.receivers[0].email_configs[0].auth_password",
        "alerting.receivers[0].slack_configs[0].api_url",
        "alerting.receivers[1].pagerduty_configs[0].routing_key",
        "alerting.receivers[2].webhook_configs[0].hmac_secret",
    ]


def test_defaults_are_the_seed_values() -> None:
    cfg = parse_config(MINIMAL)
    th = cfg.thresholds.defaults
    assert (th.accuracy_min, th.latency_max, th.error_rate_max) == (0.95, 0.2, 0.05)
    assert (th.cpu_max, th.memory_max, th.disk_max) == (80, 85, 90)
    assert (th.data_drift_max, th.model_drift_max) == (0.1, 0.15)
    assert (cfg.route.group_wait, cfg.route.group_interval, cfg.route.repeat_interval) == (30, 300, 14400)
    policy = cfg.notification_policy
    assert [policy.delivery(s) for s in Severity] == ["immediate", "daily", "weekly"]
    assert len(cfg.rules) == 8


def test_override_precedence_model_over_service_over_default() -> None:
    cfg = parse_config(
        MINIMAL + "thresholds:\n  services: {api: {cpu_max: 90, memory_max: 70}}\n  models: {m1: {cpu_max: 95}}\n"
    )
    th = cfg.thresholds.resolve("m1", "api")
    assert (th.cpu_max, th.memory_max, th.disk_max) == (95, 70, 90)
    assert cfg.thresholds.resolve("other", None).cpu_max == 80


def test_env_ref_inside_string_is_substituted() -> None:
    cfg = parse_config(
        "route: {receiver: ops}\nreceivers: [{name: ops, webhook_configs: [{url: 'https://${HOST}/hook'}]}]",
        env={"HOST": "example.com"},
    )
    assert cfg.receivers[0].webhook_configs[0].url == "https://example.com/hook"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml: \(file\): cannot read"):
        load_config(tmp_path / "nope.yml")


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_rejected_with_file_path_and_problem(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text().strip()
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert f"{path}: {expected}" in message, message


def test_bad_config_corpus_is_complete() -> None:
    assert len(BAD) >= 30
    assert all(p.with_suffix(".expected").exists() for p in BAD)


def test_empty_alerting_section_reports_required_fields() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("alerting:\n", source="c.yml")
    assert str(err.value) == "c.yml: alerting.route: Field required\nc.yml: alerting.receivers: Field required"
