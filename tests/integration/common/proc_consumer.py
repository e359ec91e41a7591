"""A consumer process for kill -9 / SIGTERM tests: records every event_id in a Redis set, counts duplicates.

usage: proc_consumer.py BOOTSTRAP TOPIC_SUFFIX GROUP_PREFIX REDIS_URL KEY [BATCH]
Writes "<KEY>:ready" once partitions are assigned. Exits 0 after SIGTERM (graceful drain).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import redis

from mlmon_common import topics
from mlmon_common.kafka import ConsumerRunner, EventProducer, Item, Rejected
from mlmon_common.settings import KafkaSettings


def main(argv: Sequence[str]) -> int:
    bootstrap, suffix, group_prefix, redis_url, key = argv[:5]
    batch = int(argv[5]) if len(argv) > 5 else 200
    kafka = KafkaSettings(
        bootstrap=bootstrap,
        topic_suffix=suffix,
        group_prefix=group_prefix,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    r = redis.Redis.from_url(redis_url)
    # One atomic step per batch: record the ids, count what was new and what was a redelivery.
    record = r.register_script(
        """
        local dups = 0
        for _, id in ipairs(ARGV) do
            if redis.call('SADD', KEYS[1], id) == 0 then dups = dups + 1 end
        end
        redis.call('INCRBY', KEYS[2], #ARGV)
        redis.call('INCRBY', KEYS[3], dups)
        return dups
        """
    )

    def handle(items: Sequence[Item]) -> list[Rejected]:
        record(keys=[f"{key}:ids", f"{key}:handled", f"{key}:dups"], args=[e.event_id for e, _ in items])
        return []

    runner = ConsumerRunner(
        kafka,
        service="proc",
        topics=[topics.RAW_PREDICTIONS],
        handler=handle,
        producer=EventProducer(kafka, client_id="proc-dlq"),
        batch_size=batch,
        on_assign=lambda _parts: r.set(f"{key}:ready", 1),
    )
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
