from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlmon_common import topics
from mlmon_common.kafka import RetryPolicy, RunnerHealth
from mlmon_common.settings import KafkaSettings, ServiceSettings


def test_topic_names_follow_the_convention_and_are_unique() -> None:
    names = [t.name for t in topics.ALL]
    assert len(set(names)) == len(names)
    assert all(n.startswith("mlmon.") and n[-3:-1] == ".v" for n in names)
    assert topics.DEADLETTER in topics.ALL


def test_bad_topic_names_are_refused() -> None:
    with pytest.raises(ValueError, match="does not follow"):
        topics.Topic("predictions", 3, frozenset(), "x")
    with pytest.raises(ValueError, match=r"unknown topic 'mlmon\.nope\.v1'"):
        topics.by_name("mlmon.nope.v1")


def test_env_vars_map_to_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLMON_KAFKA_BOOTSTRAP", "kafka-1:9093,kafka-2:9093")
    monkeypatch.setenv("MLMON_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MLMON_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("MLMON_KAFKA_SASL_USERNAME", "mlmon")
    monkeypatch.setenv("MLMON_KAFKA_SASL_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("MLMON_KAFKA_EXTRA", '{"socket.keepalive.enable": "true"}')
    monkeypatch.setenv("MLMON_REDIS_URL", "redis://r:6379/2")
    monkeypatch.setenv("MLMON_HTTP_PORT", "9001")
    s = ServiceSettings()
    cfg = s.kafka.client_config()
    assert cfg["bootstrap.servers"] == "kafka-1:9093,kafka-2:9093"
    assert cfg["sasl.password"] == "s3cret-pw"
    assert cfg["sasl.mechanism"] == "SCRAM-SHA-512"
    assert cfg["socket.keepalive.enable"] == "true"
    assert s.http.port == 9001
    assert s.redis.url.get_secret_value() == "redis://r:6379/2"
    assert "s3cret-pw" not in str(s.model_dump(mode="json"))  # secrets never printed


def test_sasl_without_mechanism_is_refused() -> None:
    with pytest.raises(ValidationError, match="security_protocol=SASL_SSL needs sasl_mechanism"):
        KafkaSettings(security_protocol="SASL_SSL")


@pytest.mark.parametrize("key", [None, "changeme", "dev", "short"])
def test_prod_refuses_placeholder_api_keys(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    monkeypatch.setenv("MLMON_ENV", "prod")
    if key is not None:
        monkeypatch.setenv("MLMON_API_KEY", key)
    with pytest.raises(ValidationError, match="MLMON_API_KEY must be set to a real secret"):
        ServiceSettings()


def test_topic_suffix_applies_to_every_name() -> None:
    assert KafkaSettings(topic_suffix="t1").topic("mlmon.metrics.v1") == "mlmon.metrics.v1-t1"
    assert topics.parse("mlmon.metrics.v1-t1") == ("metrics", 1)


def test_readiness_states() -> None:
    h = RunnerHealth()
    assert h.ready(30, now=1.0) == (False, "waiting for partition assignment")
    h.joined, h.last_loop = True, 100.0
    assert h.ready(30, now=110.0) == (True, "ok")
    assert h.ready(30, now=140.5) == (False, "consumer loop has not polled for 40s")
    h.retrying_since = 100.0
    assert h.ready(30, now=129.0) == (True, "ok")
    h.last_loop = 135.0
    assert h.ready(30, now=140.0) == (False, "retrying the same records for 40s")
    h.broker_down = True
    assert h.ready(30, now=140.0) == (False, "all brokers down")


def test_backoff_doubles_to_the_cap() -> None:
    delays = RetryPolicy(initial_s=0.5, max_s=3.0).delays()
    assert [next(delays) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
