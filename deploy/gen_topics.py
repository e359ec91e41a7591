"""Render the deployment files that list Kafka topics from ``mlmon_common.topics.ALL``.

The topic registry in ``libs/common/src/mlmon_common/topics.py`` is the one source of truth. Two
deployment files repeat it because they are read by tools that cannot import Python:

* ``deploy/compose/create-topics.sh`` -- run by docker-compose's ``kafka-init`` job;
* ``deploy/k8s/components/strimzi/topics.yaml`` -- one Strimzi ``KafkaTopic`` per topic.

Both are generated here; ``tests/unit/deploy`` fails when they drift from the registry.

    uv run python deploy/gen_topics.py           # rewrite both files
    uv run python deploy/gen_topics.py --check   # exit 1 and name the stale files
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from mlmon_common.topics import ALL, Topic

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_SCRIPT = ROOT / "deploy" / "compose" / "create-topics.sh"
STRIMZI_TOPICS = ROOT / "deploy" / "k8s" / "components" / "strimzi" / "topics.yaml"
REGENERATE = "uv run python deploy/gen_topics.py"

#: The Strimzi ``Kafka`` resource the topics belong to, and its replication settings.
STRIMZI_CLUSTER = "mlmon"
STRIMZI_REPLICAS = 3
STRIMZI_MIN_INSYNC = 2

_HEADER = f"GENERATED from mlmon_common.topics.ALL by `{REGENERATE}` -- do not edit by hand."

_SCRIPT_PRELUDE = """\
#!/usr/bin/env bash
# {header}
# Creates every mlmon topic (idempotent) and re-applies its configs, so it is also the upgrade step.
# Env: KAFKA_BOOTSTRAP (default kafka:9092), MLMON_TOPIC_REPLICATION_FACTOR (default 1).
set -euo pipefail
BOOTSTRAP="${{KAFKA_BOOTSTRAP:-kafka:9092}}"
RF="${{MLMON_TOPIC_REPLICATION_FACTOR:-1}}"
BIN="${{KAFKA_HOME:-/opt/kafka}}/bin"

create() {{
  local name="$1" partitions="$2"
  shift 2
  local create_args=() alter_args=""
  for cfg in "$@"; do
    create_args+=(--config "$cfg")
    alter_args="${{alter_args:+$alter_args,}}$cfg"
  done
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \\
    --topic "$name" --partitions "$partitions" --replication-factor "$RF" "${{create_args[@]}}"
  if [ -n "$alter_args" ]; then
    "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics \\
      --entity-name "$name" --add-config "$alter_args"
  fi
}}

"""


def _sorted_config(topic: Topic) -> list[tuple[str, str]]:
    return sorted(topic.config.items())


def compose_script(topics: Iterable[Topic] = ALL) -> str:
    """The bash script the compose ``kafka-init`` job runs: one ``create`` line per topic.

    >>> from mlmon_common.topics import RESOURCES
    >>> compose_script([RESOURCES]).splitlines()[-2]
    'create mlmon.resources.v1 3 retention.ms=604800000'
    """
    lines = [_SCRIPT_PRELUDE.format(header=_HEADER)]
    for topic in topics:
        configs = " ".join(shlex.quote(f"{k}={v}") for k, v in _sorted_config(topic))
        lines.append(f"create {shlex.quote(topic.name)} {topic.partitions} {configs}".rstrip() + "\n")
    lines.append('echo "mlmon topics ready on $BOOTSTRAP"\n')
    return "".join(lines)


def kafka_topic_name(topic: Topic) -> str:
    """Kubernetes object name of a topic's ``KafkaTopic`` (dots become dashes).

    >>> from mlmon_common.topics import RAW_LABELS
    >>> kafka_topic_name(RAW_LABELS)
    'mlmon-raw-labels-v1'
    """
    return topic.name.replace(".", "-").replace("_", "-")


def kafka_topic(topic: Topic, cluster: str = STRIMZI_CLUSTER, replicas: int = STRIMZI_REPLICAS) -> dict[str, object]:
    """One Strimzi ``KafkaTopic`` resource for ``topic``."""
    config: dict[str, str] = dict(_sorted_config(topic))
    config.setdefault("min.insync.replicas", str(min(STRIMZI_MIN_INSYNC, replicas)))
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": kafka_topic_name(topic),
            "labels": {"strimzi.io/cluster": cluster, "app.kubernetes.io/part-of": "mlmon"},
            "annotations": {"mlmon.io/description": topic.description},
        },
        "spec": {"topicName": topic.name, "partitions": topic.partitions, "replicas": replicas, "config": config},
    }


def strimzi_topics(topics: Iterable[Topic] = ALL) -> str:
    """The multi-document YAML of every ``KafkaTopic``."""
    docs = [yaml.safe_dump(kafka_topic(t), sort_keys=False, width=200) for t in topics]
    return f"# {_HEADER}\n---\n" + "---\n".join(docs)


def rendered() -> dict[Path, str]:
    """Every generated file and the content it must have."""
    return {COMPOSE_SCRIPT: compose_script(), STRIMZI_TOPICS: strimzi_topics()}


def stale_files() -> list[Path]:
    """Generated files whose content on disk differs from what the registry renders to."""
    return [p for p, text in rendered().items() if not p.exists() or p.read_text() != text]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
    stale = stale_files()
    if args.check:
        for path in stale:
            sys.stderr.write(f"stale: {path.relative_to(ROOT)} (run `{REGENERATE}`)\n")
        return 1 if stale else 0
    for path, text in rendered().items():
        if path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if path.suffix == ".sh":
                path.chmod(0o755)
            sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
