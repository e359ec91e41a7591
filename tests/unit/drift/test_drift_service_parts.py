"""Pure parts of the drift service: upload parsing, record decoding, settings overrides, readiness, CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import pytest
from fastapi import HTTPException

from mlmon_common.errors import ConfigError
from mlmon_common.events import PredictionEvent
from mlmon_drift.api import MIN_REFERENCE_ROWS, parse_rows
from mlmon_drift.cli import register
from mlmon_drift.config import DriftSection
from mlmon_drift.settings import DriftSettings
from mlmon_drift.worker import OUTCOMES, PREDICTIONS, RejectedRecordError, decode

ROWS = [{"x": i * 0.5, "plan": "a" if i % 2 else "b", "flag": i % 3 == 0} for i in range(MIN_REFERENCE_ROWS)]


def test_parse_rows_json_ndjson_csv_agree() -> None:
    as_json = parse_rows(json.dumps(ROWS).encode(), "application/json; charset=utf-8")
    as_ndjson = parse_rows("\n".join(json.dumps(r) for r in ROWS).encode(), "application/x-ndjson")
    csv = "x,plan,n\n" + "".join(f"{r['x']},{r['plan']},{i}\n" for i, r in enumerate(ROWS))
    as_csv = parse_rows(csv.encode(), "text/csv")
    assert as_json == as_ndjson == ROWS
    assert as_csv[1] == {"x": 0.5, "plan": "a", "n": 1}
    assert parse_rows(b"x,y\n" + b"1,\n" * MIN_REFERENCE_ROWS, "text/csv")[0] == {"x": 1, "y": None}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"[]", "application/xml", 415, "content-type must be one of"),
        (b"[{", "application/json", 422, "invalid JSON"),
        (b'{"x": 1}', "application/json", 422, "array of row objects"),
        (b"[1, 2]", "application/json", 422, "row 0: must be an object"),
        (b'[{"x": {"a": 1}}]', "application/json", 422, "feature 'x' must be a number"),
        (b'{"x": 1}\nnope\n', "application/x-ndjson", 422, "invalid JSON on line 2"),
        (b"", "text/csv", 422, "no header row"),
        (b"\xff\xfe", "text/csv", 422, "not UTF-8"),
        (b'[{"x": 1}]', "application/json", 422, f"at least {MIN_REFERENCE_ROWS} rows"),
    ],
)
def test_parse_rows_rejects_bad_uploads(body: bytes, content_type: str, status: int, message: str) -> None:
    with pytest.raises(HTTPException) as err:
        parse_rows(body, content_type)
    assert err.value.status_code == status
    assert message in str(err.value.detail)


def test_decode_names_the_problem() -> None:
    good = PredictionEvent(model_id="m", prediction_id="p", features={"x": 1.0})
    assert decode(PREDICTIONS, good.to_json()) == good
    cases = {
        None: ("EmptyValue", "empty record value"),
        b"{": ("ValidationError", "Invalid JSON"),
        good.to_json(): ("ValidationError", "outcome"),  # a prediction on the outcomes topic
        b"x" * (1024 * 1024 + 1): ("PayloadTooLarge", "exceeds the 1048576-byte limit"),
    }
    for value, (error_class, reason) in cases.items():
        with pytest.raises(RejectedRecordError) as err:
            decode(OUTCOMES, value)
        assert err.value.error_class == error_class
        assert reason in err.value.reason


def test_settings_overrides_and_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mlmon.yml"
    config.write_text("drift:\n  window_events: 80\n  models:\n    churn:\n      window_events: 200\n")
    monkeypatch.setenv("MLMON_CONFIG", str(config))
    monkeypatch.setenv("MLMON_DRIFT_REFERENCE_SIZE", "300")
    section = DriftSettings().detection()
    assert (section.reference_size, section.window_events) == (300, 80)
    assert section.for_model("churn").window_events == 200
    assert section.for_model("churn").reference_size == 300
    config.write_text("drift:\n  models:\n    churn:\n      persistence_k: 9\n")
    with pytest.raises(ConfigError, match="persistence_k"):
        DriftSettings().detection()
    config.write_text("drift:\n  window_size: 9\n")
    with pytest.raises(ConfigError, match=r"drift\.window_size: Extra inputs are not permitted"):
        DriftSettings().detection()


def test_section_rejects_unknown_per_model_fields() -> None:
    with pytest.raises(ValueError, match="nope"):
        DriftSection.model_validate({"models": {"m": {"nope": 1}}})


def test_stream_health_reflects_agents_assignment_and_progress() -> None:
    from mlmon_drift.stream import StreamHealth

    health = StreamHealth()
    assert health.ready(5.0) == (False, "stream not running")
    health.started = True
    assert health.ready(5.0) == (False, "waiting for partition assignment")
    health.assigned = 3
    assert health.ready(5.0) == (True, "ok")
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(asyncio.sleep(0), name="drift-predictions")
        loop.run_until_complete(task)
        health.agent_tasks = [task]
        assert health.ready(5.0) == (False, "agents not running: drift-predictions")
        assert health.alive(5.0)[0] is False
    finally:
        loop.close()
    health.agent_tasks = []
    health.beat = time.monotonic() - 60
    assert health.ready(5.0)[1].startswith("stream loop silent")
    health.stopping = True
    assert health.alive(5.0) == (True, "ok")


def test_evaluate_command_is_registered() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", "--quick", "--out", "x.md"])
    assert (args.quick, args.out) == (True, "x.md")
    assert args.func.__name__ == "cmd_evaluate"
