"""E-mail delivery of reports over SMTP (the ``reporting.email`` config section).

The message is ``multipart/mixed``: an ``alternative`` part (Markdown as text, the self-contained HTML)
and the JSON document attached. SMTP errors are ``RetryableError`` when transient (connection, 4xx).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from mlmon_common.errors import PermanentError, RetryableError
from mlmon_reporting.config import Email
from mlmon_reporting.report_jobs import summary_line
from mlmon_reporting.reports import Report


def message(cfg: Email, report: Report) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = summary_line(report)
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg.set_content(report.markdown)
    msg.add_alternative(report.html, subtype="html")
    start = report.data["period"]["start"][:10]
    msg.add_attachment(
        report.json.encode(),
        maintype="application",
        subtype="json",
        filename=f"mlmon-{report.data['report_type']}-{start}.json",
    )
    return msg


def send(cfg: Email, report: Report) -> None:
    """Send one report to ``cfg.to``."""
    msg = message(cfg, report)
    try:
        if cfg.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout_s, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
        with client:
            if cfg.starttls:
                client.starttls(context=ssl.create_default_context())
            if cfg.username and cfg.password:
                client.login(cfg.username, cfg.password.get_secret_value())
            client.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise RetryableError(f"smtp {cfg.host}:{cfg.port}: {exc.smtp_code} {exc.smtp_error!r}") from exc
        raise PermanentError(f"smtp {cfg.host}:{cfg.port}: {exc.smtp_code} {exc.smtp_error!r}") from exc
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        raise RetryableError(f"smtp {cfg.host}:{cfg.port}: {exc}") from exc
