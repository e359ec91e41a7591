"""Payload renderers: one notification in, the body each receiver type expects out (pure).

- generic webhook: the Alertmanager webhook JSON (``version: "4"``), so existing tools parse it;
- Slack incoming webhook: ``text`` + one attachment per status, colour-coded;
- PagerDuty Events API v2: ``trigger``/``resolve`` with a ``dedup_key`` stable per group;
- Prometheus Alertmanager ``POST /api/v2/alerts``: a list of postable alerts;
- email: subject/text/to/from fields (built into a MIME message by :func:`build_email`).

Secrets are not part of payloads; :mod:`mlmon_alerting.notify.send` adds them at delivery time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from mlmon_alerting.config import EmailConfig, PagerDutyConfig, Receiver, SlackConfig
from mlmon_alerting.grouping import Notification
from mlmon_alerting.lifecycle import State
from mlmon_alerting.notify.outbox import Integration, OutboxRecord

PD_SEVERITY = {1: "critical", 2: "warning", 3: "info"}
SLACK_COLOR = {"firing": "#d9534f", "resolved": "#5cb85c"}
Rendered = tuple[Integration, int, Any]


def _common(dicts: list[Mapping[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def common_labels(alerts: Iterable[State]) -> dict[str, str]:
    return _common([a["labels"] for a in alerts])


def common_annotations(alerts: Iterable[State]) -> dict[str, str]:
    return _common([a["annotations"] for a in alerts])


def title(note: Notification) -> str:
    """``[FIRING:2] ModelAccuracyLow churn`` (Alertmanager's default title shape)."""
    if note.kind == "digest":
        return str(note.extra.get("title", "mlmon digest"))
    head = f"[{note.status.upper()}:{len(note.firing) or len(note.resolved)}]"
    return " ".join([head, *(note.group_labels[k] for k in sorted(note.group_labels))])


def text(note: Notification) -> str:
    """Plain-text body: one block per alert (summary, labels, value, start, runbook)."""
    if note.kind == "digest":
        return str(note.extra.get("text", ""))
    lines = []
    for a in note.alerts:
        ann = a["annotations"]
        lines.append(f"[{a['status']}] {ann.get('summary') or a['alertname']}")
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(a["labels"].items())))
        lines.append(f"  value: {a.get('value')}  since: {a.get('starts_at')}")
        if a.get("ends_at") and a["status"] == "resolved":
            lines.append(f"  resolved at: {a['ends_at']}")
        if ann.get("runbook"):
            lines.append(f"  runbook: {ann['runbook']}")
    return "\n".join(lines)


def _am_alert(a: State, generator_url: str) -> dict[str, Any]:
    return {
        "status": a["status"],
        "labels": a["labels"],
        "annotations": a["annotations"],
        "startsAt": a.get("starts_at"),
        "endsAt": a.get("ends_at") if a["status"] == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": generator_url,
        "fingerprint": a["fingerprint"],
    }


def webhook_payload(note: Notification, external_url: str = "", max_alerts: int = 0) -> dict[str, Any]:
    alerts = note.alerts[:max_alerts] if max_alerts else note.alerts
    return {
        "version": "4",
        "groupKey": note.group_key,
        "truncatedAlerts": len(note.alerts) - len(alerts),
        "status": note.status,
        "receiver": note.receiver,
        "groupLabels": note.group_labels,
        "commonLabels": common_labels(note.alerts),
        "commonAnnotations": common_annotations(note.alerts),
        "externalURL": external_url,
        "alerts": [_am_alert(a, external_url) for a in alerts],
        "mlmon": {"kind": note.kind, "idempotencyKey": note.idempotency_key, "title": title(note)},
    }


def slack_payload(note: Notification, cfg: SlackConfig) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "username": cfg.username,
        "icon_emoji": cfg.icon_emoji,
        "text": title(note),
        "attachments": [{"color": SLACK_COLOR[note.status], "title": title(note), "text": text(note)}],
    }
    if cfg.channel:
        payload["channel"] = cfg.channel
    return payload


def pagerduty_dedup_key(group_key: str) -> str:
    """Stable per group: a resolve closes the incident the trigger opened."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:32]


def pagerduty_payload(note: Notification, cfg: PagerDutyConfig) -> dict[str, Any]:
    """Events API v2 body without ``routing_key`` (added at send time)."""
    action = "trigger" if note.status == "firing" else "resolve"
    body: dict[str, Any] = {"event_action": action, "dedup_key": pagerduty_dedup_key(note.group_key)}
    if action == "trigger":
        worst = min((a["severity"] for a in note.firing), default=3)
        body["payload"] = {
            "summary": title(note)[:1024],
            "source": cfg.source,
            "severity": PD_SEVERITY.get(worst, "info"),
            "custom_details": {"firing": text(note), "num_firing": len(note.firing)},
        }
    return body


def alertmanager_payload(note: Notification, generator_url: str = "") -> list[dict[str, Any]]:
    """Postable alerts; Alertmanager rejects unknown fields, so only its schema's fields are sent."""
    out = []
    for a in note.alerts:
        item = _am_alert(a, generator_url)
        del item["status"], item["fingerprint"]
        if a["status"] != "resolved":
            del item["endsAt"]
        out.append(item)
    return out


def email_payload(note: Notification, cfg: EmailConfig) -> dict[str, Any]:
    return {"subject": title(note), "text": text(note), "to": list(cfg.to), "from": cfg.from_}


def build_email(payload: Mapping[str, Any], idempotency_key: str = "") -> EmailMessage:
    """The MIME message for an email outbox payload."""
    msg = EmailMessage()
    msg["Subject"] = payload["subject"]
    msg["From"] = payload["from"]
    msg["To"] = ", ".join(payload["to"])
    if idempotency_key:
        msg["Message-ID"] = f"<{idempotency_key}@mlmon>"
    msg.set_content(payload["text"])
    return msg


def _wants(note: Notification, send_resolved: bool) -> Notification | None:
    if send_resolved or (note.status == "firing" and not note.resolved):
        return note
    if note.status == "resolved":
        return None
    return Notification(**{**note.__dict__, "alerts": note.firing})


def render_all(note: Notification, receiver: Receiver, external_url: str = "") -> list[Rendered]:
    """Every (integration, index, payload) of ``receiver`` for ``note`` (send_resolved honoured;
    digests go to email, Slack and webhooks only: they never page)."""
    out: list[Rendered] = []
    for i, e in enumerate(receiver.email_configs):
        if (n := _wants(note, e.send_resolved)) is not None:
            out.append(("email", i, email_payload(n, e)))
    for i, s in enumerate(receiver.slack_configs):
        if (n := _wants(note, s.send_resolved)) is not None:
            out.append(("slack", i, slack_payload(n, s)))
    for i, w in enumerate(receiver.webhook_configs):
        if (n := _wants(note, w.send_resolved)) is not None:
            out.append(("webhook", i, webhook_payload(n, external_url, w.max_alerts)))
    if note.kind == "digest":
        return out
    for i, p in enumerate(receiver.pagerduty_configs):
        if (n := _wants(note, p.send_resolved)) is not None:
            out.append(("pagerduty", i, pagerduty_payload(n, p)))
    for i, m in enumerate(receiver.alertmanager_configs):
        if (n := _wants(note, m.send_resolved)) is not None:
            out.append(("alertmanager", i, alertmanager_payload(n, external_url)))
    return out


def to_outbox(note: Notification, receiver: Receiver, now: datetime, external_url: str = "") -> list[OutboxRecord]:
    """The outbox records of ``note``: one per integration of ``receiver``, keyed for idempotency."""
    return [
        OutboxRecord.new(
            note.idempotency_key, receiver.name, integration, index, payload, now,
            lane=f"{receiver.name}|{note.group_key}|{integration}|{index}",
        )
        for integration, index, payload in render_all(note, receiver, external_url)
    ]  # fmt: skip
