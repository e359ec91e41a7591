"""Topics in the deployment files agree with the one registry, ``mlmon_common.topics.ALL``."""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from mlmon_common import topics
from mlmon_common.topics import ALL, Topic

REGEN = "uv run python deploy/gen_topics.py"


def _script_topics(text: str) -> dict[str, tuple[int, dict[str, str]]]:
    out: dict[str, tuple[int, dict[str, str]]] = {}
    for line in text.splitlines():
        if line.startswith("create "):
            _, name, partitions, *configs = shlex.split(line)
            out[name] = (int(partitions), dict(c.split("=", 1) for c in configs))
    return out


def _expected() -> dict[str, tuple[int, dict[str, str]]]:
    return {t.name: (t.partitions, dict(t.config)) for t in ALL}


def test_generated_files_are_up_to_date(gen_topics: ModuleType) -> None:
    stale = [str(p.relative_to(gen_topics.ROOT)) for p in gen_topics.stale_files()]
    assert stale == [], f"{stale} differ from mlmon_common.topics.ALL; regenerate with `{REGEN}`"


def test_compose_init_script_creates_exactly_the_registry(root: Path) -> None:
    text = (root / "deploy" / "compose" / "create-topics.sh").read_text()
    assert _script_topics(text) == _expected(), f"compose topic-init job diverges; run `{REGEN}`"


def test_compose_init_script_is_executable_bash(root: Path) -> None:
    path = root / "deploy" / "compose" / "create-topics.sh"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "--if-not-exists" in text
    assert path.stat().st_mode & 0o111, "create-topics.sh must be executable"


def test_strimzi_topics_match_the_registry(root: Path) -> None:
    docs = [d for d in yaml.safe_load_all((root / "deploy/k8s/components/strimzi/topics.yaml").read_text()) if d]
    assert {d["kind"] for d in docs} == {"KafkaTopic"}
    got = {d["spec"]["topicName"]: d["spec"]["partitions"] for d in docs}
    assert got == {t.name: t.partitions for t in ALL}, f"Strimzi KafkaTopics diverge; run `{REGEN}`"
    for doc in docs:
        wanted = topics.by_name(doc["spec"]["topicName"]).config
        assert {k: doc["spec"]["config"][k] for k in wanted} == wanted


def test_strimzi_topic_object_names_are_valid_and_unique(gen_topics: ModuleType) -> None:
    names = [gen_topics.kafka_topic_name(t) for t in ALL]
    assert len(set(names)) == len(ALL)
    for name in names:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
        assert len(name) <= 63, name


def test_kafka_topic_resource_exact_shape(gen_topics: ModuleType) -> None:
    t = Topic("mlmon.demo.v2", 4, frozenset({"x"}), "demo", {"cleanup.policy": "compact"})
    assert gen_topics.kafka_topic(t, cluster="c1", replicas=3) == {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": "mlmon-demo-v2",
            "labels": {"strimzi.io/cluster": "c1", "app.kubernetes.io/part-of": "mlmon"},
            "annotations": {"mlmon.io/description": "demo"},
        },
        "spec": {
            "topicName": "mlmon.demo.v2",
            "partitions": 4,
            "replicas": 3,
            "config": {"cleanup.policy": "compact", "min.insync.replicas": "2"},
        },
    }
    # a single-replica cluster cannot require two in-sync replicas
    assert gen_topics.kafka_topic(t, replicas=1)["spec"]["config"]["min.insync.replicas"] == "1"


def test_compose_script_quotes_and_sorts_configs(gen_topics: ModuleType) -> None:
    t = Topic("mlmon.demo.v1", 2, frozenset(), "d", {"b.x": "2", "a.y": "has space"})
    line = gen_topics.compose_script([t]).splitlines()[-2]
    assert line == "create mlmon.demo.v1 2 'a.y=has space' b.x=2"


def test_check_mode_reports_stale_files_and_write_mode_fixes_them(
    gen_topics: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script, strimzi = tmp_path / "deploy/compose/create-topics.sh", tmp_path / "deploy/strimzi/topics.yaml"
    monkeypatch.setattr(gen_topics, "ROOT", tmp_path)
    monkeypatch.setattr(gen_topics, "COMPOSE_SCRIPT", script)
    monkeypatch.setattr(gen_topics, "STRIMZI_TOPICS", strimzi)
    monkeypatch.setattr(gen_topics, "rendered", lambda: {script: "s\n", strimzi: "k\n"})
    assert gen_topics.main(["--check"]) == 1
    assert capsys.readouterr().err == (
        f"stale: deploy/compose/create-topics.sh (run `{REGEN}`)\nstale: deploy/strimzi/topics.yaml (run `{REGEN}`)\n"
    )
    assert gen_topics.main([]) == 0
    assert script.read_text() == "s\n"
    assert script.stat().st_mode & 0o111
    assert gen_topics.main(["--check"]) == 0
    assert gen_topics.stale_files() == []


def test_generator_doctests(gen_topics: ModuleType) -> None:
    result = doctest.testmod(gen_topics)
    assert result.attempted >= 2
    assert result.failed == 0


def test_no_service_spells_a_topic_name(root: Path) -> None:
    """Topics used in code come from the registry: no service source spells a registered topic name."""
    pattern = re.compile("|".join(rf"""["']{re.escape(t.name)}["'-]""" for t in ALL))
    offenders = [
        f"{p.relative_to(root)}: {m.group(0)}"
        for p in sorted((root / "services").rglob("*.py"))
        for m in pattern.finditer(p.read_text())
    ]
    assert offenders == [], "spell topics via mlmon_common.topics, not literals"


def test_init_script_calls_the_kafka_cli_per_topic(root: Path, tmp_path: Path) -> None:
    """Run the generated script against stub kafka-topics.sh/kafka-configs.sh that record their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for tool in ("kafka-topics.sh", "kafka-configs.sh"):
        stub = bin_dir / tool
        stub.write_text(f'#!/usr/bin/env bash\necho "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "KAFKA_HOME": str(tmp_path), "KAFKA_BOOTSTRAP": "b:9092"}
    script = root / "deploy" / "compose" / "create-topics.sh"
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "mlmon topics ready on b:9092\n"
    calls = log.read_text().splitlines()
    assert len(calls) == 2 * len(ALL)
    dlq = topics.DEADLETTER.name
    assert calls[-2] == (
        f"kafka-topics.sh --bootstrap-server b:9092 --create --if-not-exists --topic {dlq} --partitions 3 "
        "--replication-factor 1 --config max.message.bytes=8388608 --config retention.ms=2592000000"
    )
    assert calls[-1] == (
        f"kafka-configs.sh --bootstrap-server b:9092 --alter --entity-type topics --entity-name {dlq} "
        "--add-config max.message.bytes=8388608,retention.ms=2592000000"
    )


def test_init_script_stops_at_the_first_failure(root: Path, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    stub = tmp_path / "bin" / "kafka-topics.sh"
    stub.write_text("#!/usr/bin/env bash\necho 'broker down' >&2\nexit 3\n")
    stub.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "KAFKA_HOME": str(tmp_path)}
    script = root / "deploy" / "compose" / "create-topics.sh"
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stderr == "broker down\n"
