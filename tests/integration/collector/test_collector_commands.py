"""The collector's commands against the real broker and Redis: the resource agent (in-process and as
``python -m mlmon_collector agent``), ``simulate`` publishing the fleet through the SDK and registering
its models, and the entry points ``mlmon up`` / ``mlmon`` discover."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

from mlmon_collector import agent
from mlmon_collector.cli import add_agent, add_simulate
from mlmon_collector.model_store import ModelCatalog
from mlmon_collector.settings import CollectorOptions, CollectorSettings
from mlmon_common import topics
from mlmon_common.events import LabelEvent, PredictionEvent, ResourceEvent
from mlmon_common.settings import KafkaSettings, RedisSettings


def _parse(argv: list[str]) -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="t")
    sub = parser.add_subparsers(dest="command", required=True)
    add_agent(sub)
    add_simulate(sub)
    return parser, parser.parse_args(argv)


def _settings(kafka: KafkaSettings, redis_settings: RedisSettings) -> CollectorSettings:
    return CollectorSettings(kafka=kafka, redis=redis_settings, collector=CollectorOptions(host="h1", pod="pod-1"))


def test_agent_publishes_resource_events(kafka: KafkaSettings, redis_settings: RedisSettings, reader: Any) -> None:
    _, args = _parse(["agent", "--service", "svc-a", "--interval", "0.05", "--count", "3", "--pid", str(os.getpid())])
    assert agent.run(args, _settings(kafka, redis_settings)) == 0
    events = reader.read(topics.RESOURCES.name, 3)
    assert all(isinstance(e, ResourceEvent) for e in events)
    assert {(e.service, e.model_id, e.host, e.pod) for e in events} == {("svc-a", "svc-a", "h1", "pod-1")}
    assert all(e.process_rss_bytes and e.process_rss_bytes > 0 for e in events)
    assert sum(e.interval_s is not None for e in events) == 2  # rates need a previous sample


def test_agent_as_a_process(kafka: KafkaSettings, reader: Any) -> None:
    env = os.environ | {"MLMON_KAFKA_BOOTSTRAP": kafka.bootstrap, "MLMON_KAFKA_TOPIC_SUFFIX": kafka.topic_suffix}
    argv = [sys.executable, "-m", "mlmon_collector", "agent", "--service", "proc", "--interval", "0.1", "--count", "2"]
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert [e.service for e in reader.read(topics.RESOURCES.name, 2)] == ["proc", "proc"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["agent"], "the following arguments are required: --service"),
        (["agent", "--service", "a b"], "must be 1-200 printable characters without spaces"),
        (["agent", "--service", "a", "--interval", "0"], "--interval: must be > 0"),
        (["agent", "--service", "a", "--interval", "soon"], "must be a number of seconds"),
        (["agent", "--service", "a", "--pid", "1", "--process", "x"], "not allowed with argument"),
    ],
)
def test_agent_argument_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_simulate_publishes_through_the_sdk_and_registers_models(
    kafka: KafkaSettings, redis_settings: RedisSettings, redis_client: Any, reader: Any
) -> None:
    parser, args = _parse(["simulate", "--speed", "0", "--duration", "5", "--seed", "3", "--register", "--limit", "40"])
    assert args.func.__name__ == "<lambda>"
    from mlmon_collector import fleet

    assert fleet.run(args, parser, _settings(kafka, redis_settings)) == 0
    catalog = ModelCatalog(redis_client, redis_settings.key_prefix)
    assert [(e.model_id, s) for e, s in catalog.listing()] == [("churn", "api"), ("eta", "api"), ("fraud", "api")]
    preds = [e for e in reader.read_all(topics.RAW_PREDICTIONS.name, 1, idle_s=1.0) if isinstance(e, PredictionEvent)]
    labels = reader.read_all(topics.RAW_LABELS.name, 40 - len(preds), idle_s=0.5)
    assert len(preds) + len(labels) == 40
    assert {p.model_id for p in preds} == {"churn", "fraud", "eta"}
    assert all(isinstance(lab, LabelEvent) for lab in labels)
    assert all(p.prediction_id.startswith(f"{p.model_id}-s3-") for p in preds)


def test_entry_points_are_installed() -> None:
    extras = {ep.name: ep.load() for ep in entry_points(group="mlmon.extras")}
    assert extras["simulator"].argv == ("-m", "mlmon_collector", "simulate", "--register", "--loop")
    assert extras["resource-agent"].argv[:3] == ("-m", "mlmon_collector", "agent")
    commands = {ep.name: ep for ep in entry_points(group="mlmon.commands")}
    assert commands["collector"].value == "mlmon_collector.cli:register"
    from mlmon_common.cli import build_parser

    args = build_parser().parse_args(["simulate", "--speed", "0", "--limit", "1"])
    assert args.command == "simulate"
