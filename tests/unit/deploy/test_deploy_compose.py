"""docker-compose.yml validates against the Compose Specification schema (vendored, offline) and agrees with
the code: topic registry, settings, Dockerfile conventions. No Docker engine is needed."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlmon_common.settings import ServiceSettings
from mlmon_common.topics import ALL

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "schemas" / "compose-spec" / "compose.schema.json"
SERVICES = ("collector", "drift", "alerting", "maintenance", "reporting")
TEST_ENV = {"MLMON_API_KEY": "k" * 32}
DRAIN_S = 10

Interpolate = Callable[[str, Mapping[str, str]], str]


@pytest.fixture(scope="module")
def compose_text(root: Path) -> str:
    return (root / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str, compose_interpolate: Interpolate) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(compose_interpolate(compose_text, TEST_ENV))
    return doc


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_validates_against_the_compose_spec(
    validator: jsonschema.Draft7Validator, compose: dict[str, Any]
) -> None:
    assert _errors(validator, compose) == []


def test_compose_validates_before_interpolation_too(validator: jsonschema.Draft7Validator, compose_text: str) -> None:
    assert _errors(validator, yaml.safe_load(compose_text)) == []


def test_schema_catches_a_misspelt_key(validator: jsonschema.Draft7Validator, compose: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(compose))
    bad["services"]["drift"]["depends_on"]["kafka"]["condition"] = "service_ready"
    bad["services"]["redis"]["healthcheck"]["retry"] = 3
    errors = _errors(validator, bad)
    assert any(e.startswith("services/drift/depends_on") for e in errors), errors
    assert any(e.startswith("services/redis/healthcheck") and "'retry'" in e for e in errors), errors


def test_vendored_schema_is_documented() -> None:
    source = (SCHEMA.parent / "SOURCE.md").read_text()
    assert "dclint 3.1.0" in source
    assert (SCHEMA.parent / "LICENSE-compose-spec.Apache-2.0").read_text().lstrip().startswith("Apache License")
    assert "MIT License" in (SCHEMA.parent / "LICENSE-dclint.MIT").read_text()


# --- interpolation: required secrets fail fast ---------------------------------------------------


def test_interpolation_rules(compose_interpolate: Interpolate, interpolation_error: type[Exception]) -> None:
    env = {"A": "a", "E": ""}
    assert compose_interpolate("${A} ${A:-d} ${E:-d} ${E-d} ${U-d} ${U} $$A", env) == "a a d  d  $A"
    with pytest.raises(interpolation_error, match="required variable E is missing a value: need E"):
        compose_interpolate("${E:?need E}", env)
    assert compose_interpolate("${E?set}", env) == ""


def test_missing_api_key_stops_compose(
    compose_text: str, compose_interpolate: Interpolate, interpolation_error: type[Exception]
) -> None:
    with pytest.raises(interpolation_error, match="required variable MLMON_API_KEY is missing a value: set MLMON"):
        compose_interpolate(compose_text, {})
    with pytest.raises(interpolation_error, match="MLMON_API_KEY"):
        compose_interpolate(compose_text, {"MLMON_API_KEY": ""})


def test_only_the_api_key_is_required_and_optional_secrets_default_empty(compose_text: str) -> None:
    refs = re.findall(r"\$\{(MLMON_[A-Z_]+)(:?[-?])?([^}]*)\}", compose_text)
    required = {name for name, op, _ in refs if op in (":?", "?")}
    assert required == {"MLMON_API_KEY"}
    secrets = {name: (op, default) for name, op, default in refs if name.startswith("MLMON_ALERTING_")}
    assert secrets == {
        name: (":-", "")
        for name in (
            "MLMON_ALERTING_SMTP_PASSWORD",
            "MLMON_ALERTING_SLACK_WEBHOOK_URL",
            "MLMON_ALERTING_PAGERDUTY_ROUTING_KEY",
            "MLMON_ALERTING_WEBHOOK_SECRET",
        )
    }


# --- topology -----------------------------------------------------------------------------------


def test_services_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"kafka", "redis", "kafka-init", *SERVICES, "simulator", "resource-agent"}
    assert {n for n, s in services.items() if s.get("profiles")} == {"simulator", "resource-agent"}
    assert services["simulator"]["profiles"] == ["sim"]
    assert services["simulator"]["command"] == ["simulate", "--register", "--loop"]
    assert services["resource-agent"]["command"] == ["agent", "--service", "simulator"]
    assert services["resource-agent"]["pid"] == "service:simulator"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_built_from_the_one_dockerfile_and_waits_for_healthy_deps(
    compose: dict[str, Any], root: Path, service: str
) -> None:
    svc = compose["services"][service]
    assert svc["build"] == {"context": ".", "dockerfile": "Dockerfile", "args": {"SERVICE": service}}
    assert svc["image"] == f"mlmon-{service}:dev"
    assert (root / "services" / service / "pyproject.toml").exists()
    assert svc["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "kafka-init": {"condition": "service_completed_successfully"},
    }
    assert svc["healthcheck"]["test"] == ["CMD", "python", "/app/healthcheck.py", "/healthz"]
    assert svc["read_only"] is True
    assert svc["cap_drop"] == ["ALL"]
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert int(svc["stop_grace_period"].removesuffix("s")) > DRAIN_S
    assert "command" not in svc
    assert [p.split(":")[-1] for p in svc["ports"]] == ["8080"]


def test_dependencies_have_healthchecks_and_persistence(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("kafka", "redis"):
        assert services[name]["healthcheck"]["test"], name
    redis = services["redis"]
    assert redis["command"][:3] == ["redis-server", "--appendonly", "yes"]
    assert "redis-data:/data" in redis["volumes"]
    assert set(compose["volumes"]) >= {"kafka-data", "redis-data"}


def test_kafka_runs_kraft_with_internal_and_host_listeners(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "INTERNAL://kafka:9092,HOST://localhost:9094"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert kafka["ports"] == ["127.0.0.1:9094:9094"]  # host ports bind to loopback by default
    biggest = max(int(t.config.get("max.message.bytes", 0)) for t in ALL)
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) >= biggest


def test_topic_init_job_runs_the_generated_script(compose: dict[str, Any], root: Path) -> None:
    init = compose["services"]["kafka-init"]
    assert init["image"] == compose["services"]["kafka"]["image"]
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    host, container, mode = init["volumes"][0].split(":")
    assert (root / host).resolve() == root / "deploy" / "compose" / "create-topics.sh"
    assert mode == "ro"
    assert init["entrypoint"] == ["/bin/bash", container]
    assert init["environment"]["KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert int(init["environment"]["MLMON_TOPIC_REPLICATION_FACTOR"]) == 1  # one broker
    script = (root / host).read_text()
    created = {shlex.split(line)[1] for line in script.splitlines() if line.startswith("create ")}
    assert created == {t.name for t in ALL}


def test_every_bind_mount_exists(compose: dict[str, Any], root: Path) -> None:
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (root / source).exists(), f"{name}: {source} does not exist"


@pytest.mark.parametrize("service", SERVICES)
def test_service_environment_is_accepted_by_the_service_settings(
    compose: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    settings_for: Callable[[str], type[ServiceSettings]],
    known_setting: Callable[[str, str], bool],
    service: str,
) -> None:
    svc = compose["services"][service]
    env = {k: str(v) for k, v in svc["environment"].items()}
    for key in [k for k in os.environ if k.startswith("MLMON_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_for(service)()
    assert settings.env == "dev"
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8080)
    mounts = dict(v.split(":")[1::-1] for v in svc["volumes"])  # container path -> host path
    assert mounts[str(settings.config)] == "./deploy/k8s/base/config/mlmon.yml"
    assert settings.kafka.bootstrap == "kafka:9092"
    assert settings.redis.url.get_secret_value().startswith("redis://redis:6379/")
    unknown = [k for k in env if not known_setting(k, service)]
    assert unknown == [], f"env vars no settings field reads: {unknown}"
