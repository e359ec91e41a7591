"""Pure parts of the service shell: doctests, SSE framing and fan-out, CLI parsing, settings from env."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import pytest

from mlmon_alerting.cli import alert_line, register, sse_events
from mlmon_alerting.settings import AlertingSettings
from mlmon_alerting.stream import AlertHub, sse_frame
from mlmon_common.events import AlertEvent, Severity, utcnow


def alert_event(status: str = "firing", **kw: Any) -> AlertEvent:
    return AlertEvent(
        model_id="churn",
        fingerprint="fp1",
        alertname="ModelAccuracyLow",
        status=status,  # type: ignore[arg-type]
        severity=Severity.CRITICAL,
        labels={"model_id": "churn", "alertname": "ModelAccuracyLow"},
        annotations={"summary": "churn: accuracy 0.800 below 0.95"},
        starts_at=utcnow(),
        value=0.8,
        **kw,
    )


def test_sse_frame_round_trips_through_the_cli_parser() -> None:
    ev = alert_event()
    frames = list(sse_events(iter(sse_frame(ev).split("\n"))))
    assert frames == [("alert", ev.event_id, ev.to_json().decode())]


def test_sse_parser_handles_comments_multiline_data_and_defaults() -> None:
    lines = ["retry: 2000", ": connected", "", "data: a", "data: b", "", "event: x", "data: 1", ""]
    assert list(sse_events(iter(lines))) == [("message", "", "a\nb"), ("x", "", "1")]


def test_alert_line_for_events_and_listed_states() -> None:
    line = alert_line(alert_event(acknowledged_by="ana").model_dump(mode="json"))
    assert "FIRING" in line
    assert "critical" in line
    assert "model=churn" in line
    assert "value=0.8" in line
    assert "ack=ana" in line
    assert "[fp1]" in line
    listed = {**alert_event("resolved").model_dump(mode="json"), "severity": "critical", "ends_at": "2026-11-27T10:00"}
    assert alert_line(listed).startswith("2026-11-27T10:00")


def test_hub_fans_out_to_every_subscriber_and_drops_the_oldest_when_full() -> None:
    async def scenario() -> tuple[list[str], list[str], int]:
        hub = AlertHub(maxsize=2)
        a, b = hub.subscribe(), hub.subscribe()
        events = [alert_event(), alert_event("resolved"), alert_event(acknowledged_by="x")]
        await asyncio.to_thread(hub.publish, events)  # from another thread, like the engine
        await asyncio.sleep(0)
        got_a = [a.get_nowait().event_id for _ in range(a.qsize())]
        got_b = [b.get_nowait().event_id for _ in range(b.qsize())]
        hub.unsubscribe(a)
        return got_a, got_b, hub.subscribers

    got_a, got_b, left = asyncio.run(scenario())
    assert got_a == got_b
    assert len(got_a) == 2  # the oldest of three was dropped
    assert left == 1


def test_hub_frames_stop_when_the_client_disconnects() -> None:
    async def scenario() -> list[str]:
        hub = AlertHub()
        gone = asyncio.Event()

        async def disconnected() -> bool:
            return gone.is_set()

        out = []
        async for chunk in hub.frames(disconnected, heartbeat_s=0.02, poll_s=0.01):
            out.append(chunk)
            if len(out) == 1:
                hub.publish([alert_event()])
            if len(out) == 3:
                gone.set()
        return out

    out = asyncio.run(scenario())
    assert out[0].startswith("retry: 2000")
    assert out[1].startswith("event: alert\nid: ")
    assert out[2] == ": keepalive\n\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlmon")
    register(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_parses_silence_durations_and_rejects_bad_ones(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["silences", "add", "-m", 'model_id="churn"', "--duration", "1h30m", "--comment", "c"])
    assert args.duration == 5400.0
    assert args.matcher == ['model_id="churn"']
    for bad in ("soon", "0s"):
        with pytest.raises(SystemExit) as exc:
            parser().parse_args(["silences", "add", "-m", 'a="b"', "--duration", bad, "--comment", "c"])
        assert exc.value.code == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err


def test_cli_requires_a_subcommand_and_valid_choices() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["alerts"])
    with pytest.raises(SystemExit):
        parser().parse_args(["alerts", "list", "--status", "burning"])


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLMON_ALERTING_RETRY_INITIAL_S", "0.2")
    monkeypatch.setenv("MLMON_ALERTING_RETRY_MAX_S", "1")
    monkeypatch.setenv("MLMON_ALERTING_DELIVERY_WORKERS", "3")
    s = AlertingSettings()
    assert s.alerting.delivery_workers == 3
    assert [s.alerting.backoff().delay(n) for n in (1, 2, 3, 4)] == [0.2, 0.4, 0.8, 1.0]
    assert s.http.port == 8003


def test_settings_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLMON_ALERTING_DELIVERY_WORKERS", "0")
    with pytest.raises(ValueError, match="delivery_workers"):
        AlertingSettings()


def test_without_mlmon_config_the_service_uses_the_log_only_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlmon_alerting.app import read_config

    monkeypatch.delenv("MLMON_CONFIG", raising=False)
    cfg = read_config(AlertingSettings())
    assert cfg.route.receiver == "default"
    assert cfg.receivers[0].webhook_configs == []
    assert cfg.rules["accuracy_min"].severity == Severity.CRITICAL


def test_docs_list_every_alerting_option() -> None:
    from pathlib import Path

    from mlmon_common.envdoc import env_rows

    doc = (Path(__file__).parents[3] / "docs" / "alerting.md").read_text()
    missing = [r for r in env_rows(AlertingSettings) if "MLMON_ALERTING_" in r and r not in doc]
    assert not missing, f"docs/alerting.md is stale: {missing}"
