"""kill -9 of a drift worker mid-stream, then a restart: the drift in progress is reported once (no second
``started``), no burst of new alarms; two workers started together split the models and report exactly what
one ModelMonitor per model reports offline."""

from __future__ import annotations

from typing import Any

import httpx

from mlmon_common.testing import wait_for
from mlmon_drift.config import DriftConfig
from mlmon_drift.monitor import ModelMonitor

LENGTH, CHANGE_AT = 2400, 1000


def _offline_starts(events: list[Any]) -> list[tuple[str, str | None]]:
    mon = ModelMonitor(events[0].model_id, DriftConfig(reference_size=300, window_events=50))
    out = [e for ev in events for e in mon.update(ev)]
    return [(e.kind, e.feature) for e in out if e.state == "started"]


def test_kill9_mid_stream_reports_the_drift_once(workers: Any, feed: Any, drift_reader: Any, helpers: Any) -> None:
    first = workers.start()
    shifted = helpers.scenario_events("shifted", "mean_1.0", LENGTH, CHANGE_AT)
    control = helpers.scenario_events("control", "control", LENGTH, CHANGE_AT)
    cut = 1600  # the drift of n1 and n7 has started by then
    feed([e for pair in zip(shifted[:cut], control[:cut], strict=True) for e in pair])
    helpers.wait_processed(first.url, "shifted", 1400)
    wait_for(lambda: len(drift_reader.poll(0.2) and drift_reader.transitions("shifted")) >= 2, 30, "drift started")
    first.kill9()

    second = workers.start()
    feed([e for pair in zip(shifted[cut:], control[cut:], strict=True) for e in pair])
    state = helpers.wait_processed(second.url, "shifted", LENGTH)
    helpers.wait_processed(second.url, "control", LENGTH)
    drift_reader.poll(1.0)

    started = drift_reader.transitions("shifted")
    assert sorted(e.feature for e in started) == ["n1", "n7"]  # once each, before and after the kill
    assert len({e.event_id for e in started}) == 2
    assert sorted(state["drifting_features"]) == ["n1", "n7"]  # still in progress after the restart
    transitions = [e for e in drift_reader.events if e.state != "snapshot"]
    assert [(e.model_id, e.kind, e.feature) for e in transitions if e.state == "started"] == [
        (e.model_id, e.kind, e.feature) for e in transitions if e.state == "started" and e.model_id == "shifted"
    ]
    assert [(e.kind, e.feature) for e in started + drift_reader.transitions("shifted", "data")] == _offline_starts(
        shifted
    )
    assert state["events_seen"] == LENGTH  # replayed records were skipped, none applied twice


def test_two_workers_split_the_models_and_agree_with_one_monitor(
    workers: Any, feed: Any, drift_reader: Any, helpers: Any
) -> None:
    a, b = workers.start(wait_ready=False), workers.start(wait_ready=False)
    workers.wait_ready(a)
    workers.wait_ready(b)
    models = {f"m{i}": ("mean_1.0" if i % 2 else "control") for i in range(8)}
    streams = {m: helpers.scenario_events(m, s, 1800, 900, seed=1000 + i) for i, (m, s) in enumerate(models.items())}
    feed([e for rows in zip(*streams.values(), strict=True) for e in rows])
    for m in models:
        helpers.wait_processed(a.url, m, 1800)
    drift_reader.poll(1.0)

    def held(url: str) -> float:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("mlmon_drift_models "))

    assert held(a.url) > 0
    assert held(b.url) > 0
    assert held(a.url) + held(b.url) == len(models)
    for m, events in streams.items():
        got = [(e.kind, e.feature) for e in drift_reader.events if e.model_id == m and e.state == "started"]
        assert sorted(got, key=str) == sorted(_offline_starts(events), key=str), m
    assert any(drift_reader.transitions(m) for m in models)
