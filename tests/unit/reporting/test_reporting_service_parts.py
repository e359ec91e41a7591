"""Pure parts of the service: forecast bounds, e-mail config, scheduled periods, SSE fan-out, timers."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mlmon_common.events import MetricsEvent, PredictionEvent, ResourceEvent
from mlmon_reporting.broadcast import Broadcaster, TooManyClientsError
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.report_jobs import check_type, render, scheduled_period
from mlmon_reporting.timers import Timers
from mlmon_reporting.trends import analyze_trends

NOW = datetime(2026, 1, 8, tzinfo=UTC)


def test_an_almost_flat_series_gives_no_forecast_instead_of_overflowing() -> None:
    pts = [(NOW - timedelta(hours=h), 0.97 + 1e-12 * h) for h in range(48, -1, -1)]
    tr = analyze_trends({"accuracy": pts}, "7d", now=NOW)["accuracy"]
    assert tr.forecast is None


def test_email_config_is_validated_with_the_field_named() -> None:
    ok = ReportingConfig.model_validate(
        {"email": {"host": "smtp.example.org", "sender": "mlmon@example.org", "to": ["ops@example.org"]}}
    )
    assert ok.email is not None
    assert ok.email.port == 587
    with pytest.raises(ValidationError, match=r"email\.to\.0\n  String should match pattern"):
        ReportingConfig.model_validate({"email": {"host": "h", "sender": "a@b", "to": ["not-an-address"]}})
    with pytest.raises(ValidationError, match="ssl and starttls are exclusive"):
        ReportingConfig.model_validate({"email": {"host": "h", "sender": "a@b", "to": ["c@d"], "ssl": True}})
    with pytest.raises(ValidationError, match="username and password must be given together"):
        ReportingConfig.model_validate({"email": {"host": "h", "sender": "a@b", "to": ["c@d"], "username": "u"}})
    with pytest.raises(ValidationError, match=r"schedule\.dayly\n  Extra inputs are not permitted"):
        ReportingConfig.model_validate({"schedule": {"dayly": True}})


def test_scheduled_periods_are_the_last_complete_day_and_iso_week() -> None:
    now = datetime(2026, 1, 7, 0, 5, tzinfo=UTC)  # a Wednesday
    assert scheduled_period("daily", now) == (datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC))
    assert scheduled_period("weekly", now) == (datetime(2025, 12, 29, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC))
    with pytest.raises(ValueError, match="report_type: expected one of daily, weekly, got 'monthly'"):
        check_type("monthly")


def test_unknown_render_format_is_named() -> None:
    with pytest.raises(ValueError, match="format: expected one of json, md, html, got 'pdf'"):
        render(None, "pdf")  # type: ignore[arg-type]


def _resource() -> ResourceEvent:
    return ResourceEvent(model_id="m", service="s", host="h", cpu_percent=1, memory_percent=2)


def test_broadcaster_fans_out_from_another_thread_and_drops_slow_clients() -> None:
    async def scenario() -> tuple[list[str], bool, int]:
        b = Broadcaster(queue_size=3, max_clients=2)
        fast, slow = b.subscribe(), b.subscribe()
        with pytest.raises(TooManyClientsError, match="at most 2 stream clients"):
            b.subscribe()
        window = MetricsEvent(model_id="m", window_start=NOW, window_end=NOW, values={"accuracy": 1.0})
        t = threading.Thread(target=b.publish, args=([window, PredictionEvent(model_id="m", prediction_id="p")],))
        t.start()
        t.join()
        got = [(await asyncio.wait_for(fast.queue.get(), 1)).event_type]  # type: ignore[union-attr]
        for _ in range(3):
            b.publish([_resource()])
        await asyncio.sleep(0.05)
        items = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        b.unsubscribe(fast)
        return got, slow.dropped and items[-1] is None, b.clients

    got, dropped, clients = asyncio.run(scenario())
    assert got == ["metrics"]  # predictions are not streamed
    assert dropped
    assert clients == 1


def test_timers_run_jobs_and_survive_failures() -> None:
    timers = Timers()
    calls: list[str] = []
    done = threading.Event()

    def boom() -> None:
        calls.append("boom")
        raise RuntimeError("nope")

    def ok() -> None:
        calls.append("ok")
        if calls.count("ok") >= 2:
            done.set()

    failing = timers.every(0.05, "boom", boom)
    timers.every(0.05, "ok", ok)
    timers.start()
    try:
        assert done.wait(5)
    finally:
        timers.stop()
    assert failing.failures >= 1
    assert failing.last_error == "RuntimeError: nope"
    assert timers.alive() == (True, "ok")
    assert timers.run_now("ok") is None
