"""Readiness checks shared by services that have no consumer of their own (yet)."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from mlmon_common.settings import KafkaSettings


def broker_check(kafka: KafkaSettings, cache_s: float = 2.0) -> Callable[[], tuple[bool, str]]:
    """A check that the broker answers a metadata request (cached for ``cache_s`` seconds)."""
    admin = AdminClient(kafka.client_config())
    last: dict[str, object] = {"at": 0.0, "result": (False, "not checked yet")}

    def check() -> tuple[bool, str]:
        now = time.monotonic()
        if now - float(last["at"]) > cache_s:  # type: ignore[arg-type]
            try:
                admin.list_topics(timeout=1.0)
                last["result"] = (True, "ok")
            except KafkaException as exc:
                last["result"] = (False, f"broker unreachable: {exc}")
            last["at"] = now
        return last["result"]  # type: ignore[return-value]

    return check
