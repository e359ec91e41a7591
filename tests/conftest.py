"""Shared fixtures: a real Kafka-protocol broker and a real Redis for the whole session.

Where they come from, in order: ``MLMON_KAFKA_BOOTSTRAP`` / ``MLMON_REDIS_URL`` if set; testcontainers
(Apache Kafka and Redis images) when a Docker daemon answers; otherwise the local processes of
``mlmon_common.devstack`` on free ports. With ``CI=true`` an unavailable broker or Redis fails the run.
Every test gets its own topic suffix and consumer-group prefix, so tests never share state.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from mlmon_common.devstack import DevStack, free_port
from mlmon_common.kafka import wait_for_broker
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import drop_keys, isolated_kafka, unique

_LAYERS = ("unit", "integration", "e2e")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.DoctestItem):  # the modules' own doctests (testpaths): pure logic
            item.add_marker(pytest.mark.unit)
            continue
        parts = Path(str(item.fspath)).parts
        for layer in _LAYERS:
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))
                break


def _docker_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import docker  # type: ignore[import-untyped]

            client = docker.from_env(timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # DockerException, not an OSError, when no daemon answers
            return False


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(kafka bootstrap, redis url) of real servers for this test session."""
    kafka, redis_url = os.environ.get("MLMON_KAFKA_BOOTSTRAP"), os.environ.get("MLMON_REDIS_URL")
    with contextlib.ExitStack() as stack:
        if (not kafka or not redis_url) and _docker_answers():
            from testcontainers.community.kafka import KafkaContainer  # type: ignore[import-untyped]
            from testcontainers.community.redis import RedisContainer  # type: ignore[import-untyped]

            if not kafka:
                kafka = stack.enter_context(KafkaContainer("apache/kafka:3.9.1")).get_bootstrap_server()
            if not redis_url:
                r = stack.enter_context(RedisContainer("redis:7"))
                redis_url = f"redis://{r.get_container_host_ip()}:{r.get_exposed_port(6379)}/0"
        if not kafka or not redis_url:
            run_dir = tmp_path_factory.mktemp("infra")
            dev = DevStack(run_dir, kafka_port=free_port(), redis_port=free_port())
            stack.callback(dev.down)
            ep = dev.up(kafka, redis_url)
            kafka, redis_url = ep.kafka_bootstrap, ep.redis_url
        try:
            wait_for_broker(KafkaSettings(bootstrap=kafka), timeout_s=30)
            redis.Redis.from_url(redis_url).ping()
        except Exception as exc:
            if IN_CI:
                pytest.fail(f"broker/Redis unavailable in CI: {exc}")
            raise
        yield kafka, redis_url


@pytest.fixture
def kafka(infra: tuple[str, str]) -> KafkaSettings:
    """Kafka settings with a unique topic suffix and group prefix; every registry topic created."""
    return isolated_kafka(infra[0])


@pytest.fixture
def redis_settings(infra: tuple[str, str]) -> RedisSettings:
    return RedisSettings(url=infra[1], key_prefix=unique("mlmon-test:") + ":")  # type: ignore[arg-type]


@pytest.fixture
def redis_client(redis_settings: RedisSettings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_settings.url.get_secret_value())
    yield client
    drop_keys(client, redis_settings.key_prefix)
    client.close()
