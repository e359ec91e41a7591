"""Receiver configs: email (SMTP), Slack, generic webhook, PagerDuty, Prometheus Alertmanager."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator

from mlmon_alerting.schema import Duration, StrictModel


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/:]+(:\d+)?(/\S*)?$", value):
        raise ValueError(f"invalid URL {value!r}; expected http(s)://host[:port][/path]")
    return value


Url = Annotated[str, AfterValidator(_http_url)]
SecretUrl = Annotated[SecretStr, BeforeValidator(lambda v: _http_url(v) if isinstance(v, str) else v)]


class EmailConfig(StrictModel):
    to: Annotated[list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]], Field(min_length=1)]
    from_: Annotated[str, Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")]
    smarthost: Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$", description="host:port")]
    hello: str = "localhost"
    auth_username: str | None = None
    auth_password: SecretStr | None = None
    starttls: bool = Field(True, description="upgrade with STARTTLS (refuse to send if unsupported)")
    tls: bool = Field(False, description="implicit TLS (SMTPS, usually port 465)")
    send_resolved: bool = False
    timeout: Duration = 10.0

    @model_validator(mode="after")
    def _auth(self) -> EmailConfig:
        if (self.auth_password is None) != (self.auth_username is None):
            raise ValueError("auth_username and auth_password must be given together")
        if self.tls and self.starttls:
            raise ValueError("tls (implicit TLS) and starttls are exclusive; set starttls: false with tls: true")
        return self


class SlackConfig(StrictModel):
    api_url: SecretUrl
    channel: str | None = None
    username: str = "mlmon"
    icon_emoji: str = ":rotating_light:"
    send_resolved: bool = True
    timeout: Duration = 10.0


class WebhookConfig(StrictModel):
    url: Url
    hmac_secret: SecretStr | None = None
    signature_header: str = "X-Mlmon-Signature"
    max_alerts: int = Field(0, ge=0, description="0 = all alerts of the group")
    send_resolved: bool = True
    timeout: Duration = 10.0


class PagerDutyConfig(StrictModel):
    routing_key: SecretStr
    url: Url = "https://events.pagerduty.com/v2/enqueue"
    source: str = "mlmon"
    send_resolved: bool = True
    timeout: Duration = 10.0


class AlertmanagerConfig(StrictModel):
    url: Url = Field(description="base URL; alerts are POSTed to <url>/api/v2/alerts")
    send_resolved: bool = True
    timeout: Duration = 10.0


class Receiver(StrictModel):
    name: str = Field(min_length=1)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerDutyConfig] = Field(default_factory=list)
    alertmanager_configs: list[AlertmanagerConfig] = Field(default_factory=list)
