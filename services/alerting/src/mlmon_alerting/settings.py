"""Settings of the alerting service: ``MLMON_*`` (shared) and ``MLMON_ALERTING_*`` (its own).

The rules, routes and receivers live in the YAML file of ``MLMON_CONFIG`` (see ``config.example.yml``);
these are the process options: delivery retry/backoff, worker threads, timers and the SSE stream.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mlmon_alerting.notify.outbox import Backoff
from mlmon_common.settings import HttpSettings, ServiceSettings


class AlertingOptions(BaseModel):
    """``MLMON_ALERTING_*``: options of this service only."""

    retry_initial_s: float = Field(0.5, gt=0, description="first delay after a recoverable delivery failure")
    retry_factor: float = Field(2.0, ge=1, description="backoff multiplier per failed attempt")
    retry_max_s: float = Field(60.0, gt=0, description="longest delay between two attempts")
    retry_deadline_s: float = Field(24 * 3600.0, gt=0, description="give a notification up after this long")
    delivery_workers: int = Field(2, ge=1, le=32, description="threads sending outbox records")
    delivery_lease_s: float = Field(
        30.0, gt=0, description="a claimed record is retried after this long if its sender died (> receiver timeout)"
    )
    delivery_poll_s: float = Field(0.1, gt=0, description="longest idle wait of a delivery worker")
    delivered_retention_s: float = Field(7 * 24 * 3600.0, gt=0, description="keep delivered records this long")
    consumer_poll_s: float = Field(
        0.02, gt=0, le=1, description="longest wait of one consumer poll (a batch waits this long to fill)"
    )
    tick_max_s: float = Field(1.0, gt=0, description="longest sleep of the dispatcher (expiry checks)")
    resolved_retention_s: float = Field(
        7 * 24 * 3600.0, gt=0, description="resolved alerts are listed (and kept in Redis) this long"
    )
    seen_ttl_s: int = Field(
        3600, ge=60, description="remember consumed event ids this long (covers replays after a crash/restart)"
    )
    external_url: str = Field("", description="URL of this service, put in webhook/Alertmanager payloads")
    sse_heartbeat_s: float = Field(15.0, gt=0, description="keep-alive comment interval of /v1/alerts/stream")

    def backoff(self) -> Backoff:
        return Backoff(
            initial_s=self.retry_initial_s,
            factor=self.retry_factor,
            max_s=self.retry_max_s,
            deadline_s=self.retry_deadline_s,
        )


class AlertingSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8003))
    alerting: AlertingOptions = Field(default_factory=AlertingOptions)
