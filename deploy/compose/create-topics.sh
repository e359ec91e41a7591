#!/usr/bin/env bash
# GENERATED from mlmon_common.topics.ALL by `uv run python deploy/gen_topics.py` -- do not edit by hand.
# Creates every mlmon topic (idempotent) and re-applies its configs, so it is also the upgrade step.
# Env: KAFKA_BOOTSTRAP (default kafka:9092), MLMON_TOPIC_REPLICATION_FACTOR (default 1).
set -euo pipefail
BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
RF="${MLMON_TOPIC_REPLICATION_FACTOR:-1}"
BIN="${KAFKA_HOME:-/opt/kafka}/bin"

create() {
  local name="$1" partitions="$2"
  shift 2
  local create_args=() alter_args=""
  for cfg in "$@"; do
    create_args+=(--config "$cfg")
    alter_args="${alter_args:+$alter_args,}$cfg"
  done
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor "$RF" "${create_args[@]}"
  if [ -n "$alter_args" ]; then
    "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics \
      --entity-name "$name" --add-config "$alter_args"
  fi
}

create mlmon.raw.predictions.v1 6 retention.ms=604800000
create mlmon.raw.labels.v1 6 retention.ms=604800000
create mlmon.predictions.v1 6 retention.ms=604800000
create mlmon.outcomes.v1 6 retention.ms=604800000
create mlmon.resources.v1 3 retention.ms=604800000
create mlmon.metrics.v1 3 retention.ms=604800000
create mlmon.drift.v1 3 retention.ms=604800000
create mlmon.alerts.v1 3 retention.ms=604800000
create mlmon.maintenance.v1 3 retention.ms=604800000
create mlmon.deadletter.v1 3 max.message.bytes=8388608 retention.ms=2592000000
echo "mlmon topics ready on $BOOTSTRAP"
