"""How `mlmon up` runs a scripted fleet: the simulator's --scenario/--speed default to
MLMON_COLLECTOR_SIMULATE_SCENARIO/_SPEED (the supervisor passes its environment to its children); bad values stop
the simulator with a message naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlmon_collector.simulate import SCENARIO_ENV, SPEED_ENV, parse_args

from .test_pipeline import HEALTHY, SCENARIO


def test_scenario_and_speed_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fleet.yml"
    path.write_text(yaml.safe_dump(SCENARIO))
    monkeypatch.setenv(SCENARIO_ENV, str(path))
    monkeypatch.setenv(SPEED_ENV, "2.5")
    opts = parse_args([])
    assert [m.model_id for m in opts.scenario.models][-1] == HEALTHY
    assert opts.scenario.seed == SCENARIO["seed"]
    assert opts.speed == 2.5
    assert parse_args(["--speed", "0"]).speed == 0, "the command line wins over the environment"


def test_without_the_environment_the_default_fleet_runs_in_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCENARIO_ENV, raising=False)
    monkeypatch.delenv(SPEED_ENV, raising=False)
    opts = parse_args([])
    assert [m.model_id for m in opts.scenario.models] == ["churn", "fraud", "eta"]
    assert opts.speed == 1.0


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        (SPEED_ENV, "fast", "argument --speed: must be a finite number >= 0, got 'fast'"),
        (SPEED_ENV, "-1", "argument --speed: must be a finite number >= 0, got '-1'"),
        (SCENARIO_ENV, "/nonexistent/fleet.yml", "--scenario: [Errno 2] No such file or directory"),
    ],
)
def test_a_bad_environment_value_is_a_usage_error(
    env: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SystemExit) as exc:
        parse_args([])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_scenario_that_does_not_validate_names_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**SCENARIO, "incidents": [{"kind": "mean_shift", "model_id": "nope", "start_s": 1, "feature": "x"}]}
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(bad))
    monkeypatch.setenv(SCENARIO_ENV, str(path))
    with pytest.raises(SystemExit):
        parse_args([])
    assert "incidents.0: unknown model_id 'nope'" in capsys.readouterr().err
