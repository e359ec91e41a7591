"""A metrics event on Kafka -> a critical alert -> every receiver type, for real; then its resolve.

Peers: an HTTP receiver (Slack incoming webhook, generic webhook with HMAC-SHA256, PagerDuty Events
v2), an SMTP server (aiosmtpd) and a real Prometheus Alertmanager 0.25 (Debian package) on loopback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlmon_alerting.notify.send import verify
from mlmon_common import topics
from mlmon_common.devstack import free_port
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, consume_n, wait_for

from .conftest import SmtpSink, metrics, running_service, send

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
SECRET = "hook-secret"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if not shutil.which(ALERTMANAGER):
        pytest.fail(f"{ALERTMANAGER} is not installed (apt-get install prometheus-alertmanager)")
    cfg = tmp_path / "am.yml"
    cfg.write_text('route: {receiver: "null"}\nreceivers: [{name: "null"}]\n')
    port = free_port()
    proc = subprocess.Popen(
        [
            ALERTMANAGER, f"--config.file={cfg}", f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 15, "alertmanager ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def config(receiver: str, smtp_port: int, am_url: str) -> str:
    return f"""
alerting:
  route:
    receiver: oncall
    group_by: [alertname, model_id]
    group_wait: 0s
    group_interval: 1s
  receivers:
    - name: oncall
      email_configs:
        - {{to: [oncall@example.com], from: mlmon@example.com, smarthost: "127.0.0.1:{smtp_port}",
            starttls: false, send_resolved: true, timeout: 5s}}
      slack_configs:
        - {{api_url: "{receiver}/slack", channel: "#ml", timeout: 2s}}
      webhook_configs:
        - {{url: "{receiver}/hook", hmac_secret: {SECRET}, timeout: 2s}}
      pagerduty_configs:
        - {{routing_key: pd-key, url: "{receiver}/pd", timeout: 2s}}
      alertmanager_configs:
        - {{url: "{am_url}", timeout: 2s}}
"""


def test_critical_alert_reaches_every_receiver_then_resolves(
    kafka: KafkaSettings,
    redis_settings: RedisSettings,
    http_receiver: HttpSink,
    smtp_sink: SmtpSink,
    alertmanager: str,
) -> None:
    cfg = config(http_receiver.url, smtp_sink.port, alertmanager)
    with running_service(kafka, redis_settings, cfg) as (url, _parts):
        send(kafka, metrics("churn", 0.80))
        wait_for(lambda: http_receiver.on("/hook") and http_receiver.on("/pd") and http_receiver.on("/slack"),
                 20, "webhook, PagerDuty and Slack deliveries")  # fmt: skip
        wait_for(lambda: smtp_sink.messages, 20, "the email")

        hook = http_receiver.on("/hook")[0]
        assert verify(SECRET, hook.body, hook.headers["x-mlmon-signature"])
        body = hook.json()
        assert body["status"] == "firing"
        assert body["version"] == "4"
        assert body["alerts"][0]["labels"]["alertname"] == "ModelAccuracyLow"
        assert body["alerts"][0]["labels"]["model_id"] == "churn"
        assert hook.headers["idempotency-key"] == body["mlmon"]["idempotencyKey"]

        pd = http_receiver.on("/pd")[0].json()
        assert pd["event_action"] == "trigger"
        assert pd["routing_key"] == "pd-key"
        assert pd["payload"]["severity"] == "critical"
        slack = http_receiver.on("/slack")[0].json()
        assert slack["channel"] == "#ml"
        assert "ModelAccuracyLow" in slack["text"]

        mail = smtp_sink.messages[0]
        assert "ModelAccuracyLow" in mail["Subject"]
        assert mail["To"] == "oncall@example.com"
        assert "churn: accuracy 0.800 below 0.95" in mail.get_payload()

        def am_alerts() -> list[dict]:
            return httpx.get(f"{alertmanager}/api/v2/alerts", timeout=2).json()

        shown = wait_for(am_alerts, 20, "the alert in Alertmanager's API")
        assert shown[0]["labels"]["alertname"] == "ModelAccuracyLow"
        assert shown[0]["status"]["state"] == "active"

        listed = httpx.get(f"{url}/v1/alerts", params={"status": "firing"}).json()
        assert [a["alertname"] for a in listed["alerts"]] == ["ModelAccuracyLow"]

        send(kafka, metrics("churn", 0.99))
        wait_for(lambda: len(http_receiver.on("/pd")) == 2, 20, "the PagerDuty resolve")
        resolve = http_receiver.on("/pd")[1].json()
        assert resolve["event_action"] == "resolve"
        assert resolve["dedup_key"] == pd["dedup_key"]
        wait_for(lambda: len(http_receiver.on("/hook")) == 2, 20, "the resolved webhook")
        assert http_receiver.on("/hook")[1].json()["status"] == "resolved"
        wait_for(lambda: len(smtp_sink.messages) == 2, 20, "the resolved email")

        # Alertmanager lists only unresolved alerts: the forwarded resolve (endsAt set) removes it.
        wait_for(lambda: am_alerts() == [], 20, "the alert resolved in Alertmanager")

        wait_for(lambda: httpx.get(f"{url}/v1/receivers/outbox").json()["delivered"] == 10, 20, "10 deliveries")
        outbox = httpx.get(f"{url}/v1/receivers/outbox").json()
        assert outbox["pending"] == 0
        assert outbox["failed"] == 0

    events = consume_n(kafka, kafka.topic(topics.ALERTS.name), 2)
    statuses = [json.loads(m.value())["status"] for m in events]
    assert statuses == ["firing", "resolved"]
