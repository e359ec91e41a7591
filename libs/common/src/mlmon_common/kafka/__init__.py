"""Kafka plumbing on confluent-kafka: topic administration, an observed producer, and the consumer runner.

The runner is at-least-once: a record's offset is stored only after its batch was handled (or dead-lettered)
and everything the batch produced was acknowledged by the broker. Handlers must be idempotent.
"""

from mlmon_common.kafka.admin import ensure_topics, wait_for_broker
from mlmon_common.kafka.origin import OriginMarks, origin_header, origin_of
from mlmon_common.kafka.producer import EventProducer, ProducerStats
from mlmon_common.kafka.runner import (
    MAX_EVENT_BYTES,
    ConsumerRunner,
    Handler,
    Item,
    Record,
    Rejected,
    RetryPolicy,
    RunnerHealth,
    RunnerStats,
    per_event,
    summarise,
)

__all__ = [
    "MAX_EVENT_BYTES",
    "ConsumerRunner",
    "EventProducer",
    "Handler",
    "Item",
    "OriginMarks",
    "ProducerStats",
    "Record",
    "Rejected",
    "RetryPolicy",
    "RunnerHealth",
    "RunnerStats",
    "ensure_topics",
    "origin_header",
    "origin_of",
    "per_event",
    "summarise",
    "wait_for_broker",
]
