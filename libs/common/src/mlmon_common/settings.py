"""Settings shared by every service, read from ``MLMON_*`` environment variables by the service.

``mlmon_common`` defines the classes; each service subclasses :class:`ServiceSettings` in its own
``settings.py`` and instantiates it once at start-up. Nested groups split on the first underscore after the
prefix: ``MLMON_KAFKA_BOOTSTRAP`` -> ``kafka.bootstrap``, ``MLMON_REDIS_URL`` -> ``redis.url``,
``MLMON_HTTP_PORT`` -> ``http.port``, ``MLMON_DRIFT_REFERENCE_SIZE`` -> ``drift.reference_size``.
The full reference is ``docs/configuration.md``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SECRET_NAME = re.compile(r"password|secret|key|token|credential", re.IGNORECASE)

#: Values that mean "nobody set a secret": refused outside ``env=dev``/``test``.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "dev", "dev-key", "secret", "test"})


class KafkaSettings(BaseModel):
    """Connection and client options passed to librdkafka (``MLMON_KAFKA_*``)."""

    bootstrap: str = Field("127.0.0.1:19092", description="bootstrap.servers")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="security.protocol"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = Field(
        None, description="sasl.mechanism (required with SASL_*)"
    )
    sasl_username: str | None = Field(None, description="sasl.username")
    sasl_password: SecretStr | None = Field(None, description="sasl.password (secret)")
    ssl_ca_location: str | None = Field(None, description="ssl.ca.location (CA bundle path)")
    ssl_certificate_location: str | None = Field(None, description="ssl.certificate.location (client cert)")
    ssl_key_location: str | None = Field(None, description="ssl.key.location (client key)")
    ssl_key_password: SecretStr | None = Field(None, description="ssl.key.password (secret)")
    group_prefix: str = Field("mlmon", description="consumer group id = <group_prefix>-<service>")
    topic_suffix: str = Field("", description="appended to every topic name (isolated test runs)")
    session_timeout_ms: int = Field(6000, ge=1000, description="session.timeout.ms (short joins on the dev broker)")
    heartbeat_interval_ms: int = Field(1000, ge=100, description="heartbeat.interval.ms")
    fetch_wait_max_ms: int = Field(20, ge=1, description="fetch.wait.max.ms (latency vs. fetch requests)")
    batch_linger_ms: int = Field(
        100,
        ge=0,
        le=10_000,
        description="while records keep arriving, a consumer batch keeps filling for up to this long: bigger "
        "batches, far fewer (and larger) produce requests downstream; an idle poll ends it early (0 = off)",
    )
    extra: dict[str, str] = Field(
        default_factory=dict, description="any further librdkafka property, verbatim (JSON object)"
    )

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol={self.security_protocol} needs sasl_mechanism")
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms")
        return self

    def client_config(self) -> dict[str, Any]:
        """librdkafka properties common to producers, consumers and admin clients."""
        cfg: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
            "ssl.key.password": self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
        }
        cfg.update({k: v for k, v in optional.items() if v is not None})
        cfg.update(self.extra)
        return cfg

    def topic(self, name: str) -> str:
        return f"{name}-{self.topic_suffix}" if self.topic_suffix else name


class RedisSettings(BaseModel):
    """``MLMON_REDIS_*``."""

    url: SecretStr = Field(SecretStr("redis://127.0.0.1:6399/0"), description="redis://[user:pass@]host:port/db")
    key_prefix: str = Field("mlmon:", description="prefix of every key mlmon writes")
    socket_timeout_s: float = Field(5.0, gt=0, description="connect/read timeout of every Redis call")


class HttpSettings(BaseModel):
    """``MLMON_HTTP_*``."""

    host: str = Field("127.0.0.1", description="listen address (0.0.0.0 in containers)")
    port: int = Field(8000, ge=0, le=65535, description="listen port (each service has its own default)")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="larger request bodies get 413")


class ServiceSettings(BaseSettings):
    """What every service reads; a service adds its own group (``MLMON_<SERVICE>_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="MLMON_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
        validate_default=True,
    )

    env: Literal["dev", "test", "prod"] = Field("dev", description="prod refuses placeholder secrets")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="JSON logs to stdout")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    api_key: SecretStr | None = Field(None, description="required for HTTP writes; refused if a placeholder in prod")
    config: Path | None = Field(None, description="path of the mlmon YAML config (MLMON_CONFIG)")
    retry_deadline_s: float = Field(300.0, gt=0, description="how long a record is retried before dead-letter")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _secrets_set_in_prod(self) -> ServiceSettings:
        if self.env == "prod":
            key = self.api_key.get_secret_value() if self.api_key else ""
            if key.lower() in PLACEHOLDER_SECRETS or len(key) < 16:
                raise ValueError("MLMON_API_KEY must be set to a real secret (16+ characters) when MLMON_ENV=prod")
        return self

    def log_effective(self, logger: logging.Logger) -> None:
        """Log the effective configuration once at start-up; secrets print as ``**********``, and so do
        librdkafka properties in ``kafka.extra`` whose name says they are secret."""
        doc = self.model_dump(mode="json")
        extra = doc.get("kafka", {}).get("extra", {})
        for name in extra:
            if _SECRET_NAME.search(name):
                extra[name] = "**********"
        logger.info("effective configuration", extra={"settings": doc})
