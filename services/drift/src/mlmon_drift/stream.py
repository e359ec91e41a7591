"""The faust-streaming application: agents on predictions and outcomes, timers, rebalance hooks.

Consumer group ``<group_prefix>-drift`` (the faust app id); several workers split the models by partition
(predictions and outcomes have the same partition count, so faust co-partitions them: one model's predictions
and outcomes reach the same worker). Topics are raw bytes, validated with pydantic inside the loop; each record
is handled in its own try/except, a failing record goes to the dead-letter topic and the agent continues.
Records arrive batched (:mod:`mlmon_drift.batching`): one stream event per partition per consumer poll, acked
once its last record is handled, which cuts faust's per-record overhead (about 60 us) out of the hot path.

Offsets and state: faust's own periodic commit is switched off. Every ``checkpoint_interval_s`` (or
``checkpoint_every_events``) the worker flushes its producer, writes the changed monitors to Redis and only then
commits the acked offsets, so a committed offset is always covered by a checkpoint; records between the commit
and the checkpoint are replayed after a crash and skipped by offset. On revoke and shutdown faust commits
first (no record is processed in between), then the worker checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import aiokafka
import faust
from faust.types import TP

from mlmon_common import topics
from mlmon_common.devstack import free_port
from mlmon_common.errors import ConfigError, RetryableError
from mlmon_common.kafka import origin_of
from mlmon_common.settings import KafkaSettings
from mlmon_drift.batching import BATCH_SERIALIZER, use_batches
from mlmon_drift.settings import DriftOptions
from mlmon_drift.worker import OUTCOMES, PREDICTIONS, DriftWorker

logger = logging.getLogger(__name__)


def use_fetch_max_wait(ms: int) -> None:
    """faust 0.15 hard-codes aiokafka ``fetch_max_wait_ms=1500`` (about 1 s per hop on a quiet topic):
    swap in a consumer class that uses ``ms`` instead. Call before the app starts its consumer."""
    base = getattr(aiokafka.AIOKafkaConsumer, "_mlmon_base", aiokafka.AIOKafkaConsumer)

    class FetchWaitConsumer(base):  # type: ignore[misc, valid-type]
        _mlmon_base = base

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["fetch_max_wait_ms"] = ms
            super().__init__(*args, **kwargs)

    aiokafka.AIOKafkaConsumer = FetchWaitConsumer  # type: ignore[misc]


def credentials(kafka: KafkaSettings) -> Any:
    """faust credentials from the shared Kafka settings (PLAINTEXT: none)."""
    if kafka.security_protocol == "PLAINTEXT":
        return None
    ctx = None
    if kafka.security_protocol.endswith("SSL"):
        ctx = ssl.create_default_context(cafile=kafka.ssl_ca_location)
        if kafka.ssl_certificate_location:
            password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
            ctx.load_cert_chain(kafka.ssl_certificate_location, kafka.ssl_key_location, password)
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(ctx)
    if kafka.sasl_mechanism == "OAUTHBEARER":
        raise ConfigError("MLMON_KAFKA_SASL_MECHANISM=OAUTHBEARER is not supported by the drift service (faust)")
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
        mechanism=kafka.sasl_mechanism,
        ssl_context=ctx,
    )


@dataclass
class StreamHealth:
    """What ``/readyz`` and ``/healthz`` read (from the HTTP thread; plain attributes only)."""

    beat: float = field(default_factory=time.monotonic)
    assigned: int = 0
    started: bool = False
    stopping: bool = False
    agent_tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    crashed: str | None = None

    def dead_agents(self) -> list[str]:
        return [t.get_name() for t in self.agent_tasks if t.done()]

    def ready(self, stall_after_s: float) -> tuple[bool, str]:
        if self.crashed:
            return False, f"stream crashed: {self.crashed}"
        if not self.started or self.stopping:
            return False, "stream not running"
        dead = self.dead_agents()
        if dead:
            return False, f"agents not running: {', '.join(dead)}"
        if self.assigned == 0:
            return False, "waiting for partition assignment"
        silent = time.monotonic() - self.beat
        if silent > stall_after_s:
            return False, f"stream loop silent for {silent:.0f}s"
        return True, "ok"

    def alive(self, stall_after_s: float) -> tuple[bool, str]:
        if self.crashed:
            return False, f"stream crashed: {self.crashed}"
        dead = self.dead_agents()
        if self.started and dead and not self.stopping:
            return False, f"agents not running: {', '.join(dead)}"
        silent = time.monotonic() - self.beat
        if self.started and not self.stopping and silent > 4 * stall_after_s:
            return False, f"stream loop silent for {silent:.0f}s"
        return True, "ok"


def create_stream_app(
    kafka: KafkaSettings, options: DriftOptions, worker: DriftWorker, health: StreamHealth, retry_deadline_s: float
) -> faust.App:
    """The faust app with its agents and timers (not started)."""
    use_fetch_max_wait(kafka.fetch_wait_max_ms)
    app = faust.App(
        f"{kafka.group_prefix}-drift",
        broker=[f"kafka://{host.strip()}" for host in kafka.bootstrap.split(",")],
        broker_credentials=credentials(kafka),
        broker_session_timeout=kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=kafka.heartbeat_interval_ms / 1000,
        broker_commit_interval=24 * 3600.0,  # commits come from the checkpoint round only
        broker_commit_every=2**62,
        consumer_auto_offset_reset="earliest",
        topic_disable_leader=True,
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="mlmon-drift-faust-"),
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=options.web_port or free_port(),
        autodiscover=False,
        stream_wait_empty=True,
        broker_max_poll_records=options.max_batch,
    )
    use_batches(app)
    pred_topic = app.topic(
        kafka.topic(topics.PREDICTIONS.name), key_serializer=BATCH_SERIALIZER, value_serializer=BATCH_SERIALIZER
    )
    out_topic = app.topic(
        kafka.topic(topics.OUTCOMES.name), key_serializer=BATCH_SERIALIZER, value_serializer=BATCH_SERIALIZER
    )
    commit_lock = asyncio.Lock()

    async def checkpoint_round() -> None:
        """Producer flushed, monitors checkpointed, then offsets committed (never the other way round)."""
        async with commit_lock:
            worker.producer.flush(10.0)
            worker.checkpoint()
            await app.consumer.commit()

    async def retry(kind: str, record: Any) -> None:
        """Retry a record whose first attempt hit a ``RetryableError`` (Redis down) until the deadline."""
        deadline = time.monotonic() + retry_deadline_s
        delay = 0.2
        while True:
            logger.warning("retrying a record", extra={"topic": record.topic, "offset": record.offset})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            try:
                worker.process(kind, record.value, record.partition, record.offset, origin_of(record.headers))
                return
            except RetryableError:
                if time.monotonic() > deadline:
                    raise

    async def consume(kind: str, stream: faust.StreamT) -> None:
        # one stream event per fetched batch of one partition (RecordBatch); faust acks it after the loop body
        async for batch in stream:
            for record in batch:
                try:
                    try:
                        worker.process(kind, record.value, record.partition, record.offset, origin_of(record.headers))
                    except RetryableError:
                        await retry(kind, record)
                except Exception as exc:  # never let one record kill the agent (faust#175)
                    try:
                        worker.dead_letter(record.topic, record.partition, record.offset, record.key, record.value, exc)
                    except Exception:
                        logger.exception("could not dead-letter a record", extra={"offset": record.offset})
            worker.metrics.processed(kind, len(batch))
            health.beat = time.monotonic()
            if worker.events_since_checkpoint >= options.checkpoint_every_events:
                try:
                    await checkpoint_round()
                except Exception:
                    logger.exception("checkpoint failed; offsets not committed")

    @app.agent(pred_topic, name="drift-predictions")
    async def predictions(stream: faust.StreamT) -> None:
        await consume(PREDICTIONS, stream)

    @app.agent(out_topic, name="drift-outcomes")
    async def outcomes(stream: faust.StreamT) -> None:
        await consume(OUTCOMES, stream)

    @app.timer(1.0)
    async def heartbeat() -> None:
        health.beat = time.monotonic()
        health.assigned = len(app.consumer.assignment())
        if not health.agent_tasks:
            health.agent_tasks = [
                actor.actor_task for agent in (predictions, outcomes) for actor in agent._actors if actor.actor_task
            ]

    @app.timer(options.checkpoint_interval_s)
    async def checkpoints() -> None:
        try:
            await checkpoint_round()
        except Exception:
            logger.exception("checkpoint failed; offsets not committed")

    @app.timer(options.snapshot_interval_s)
    async def snapshots() -> None:
        try:
            worker.snapshots()
        except Exception:
            logger.exception("snapshot failed")

    @app.timer(options.reference_poll_s)
    async def references() -> None:
        try:
            worker.poll_references()
        except Exception:
            logger.exception("reference poll failed")

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: set[TP], **kwargs: Any) -> None:
        # faust has committed the acked offsets and paused the stream: the monitors hold exactly those records
        partitions = {tp.partition for tp in revoked}
        n = worker.release(partitions)
        logger.info("partitions revoked", extra={"partitions": sorted(partitions), "models_released": n})

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: set[TP], **kwargs: Any) -> None:
        health.assigned = len(assigned)
        health.started = True
        logger.info(
            "partitions assigned", extra={"partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in assigned)}
        )

    @app.on_before_shutdown.connect
    async def on_shutdown(app: faust.App, **kwargs: Any) -> None:
        health.stopping = True
        worker.release_all()
        worker.producer.flush(10.0)

    return app
