"""A 1-sd mean shift on two features is reported for exactly those features; the no-change control of the
same length is not (real broker, real Redis, the service as a subprocess)."""

from __future__ import annotations

from typing import Any

LENGTH, CHANGE_AT = 2000, 1200


def test_mean_shift_on_two_features_and_quiet_control(workers: Any, feed: Any, drift_reader: Any, helpers: Any) -> None:
    worker = workers.start()
    shifted = helpers.scenario_events("shifted", "mean_1.0", LENGTH, CHANGE_AT)
    control = helpers.scenario_events("control", "control", LENGTH, CHANGE_AT)
    feed([e for pair in zip(shifted, control, strict=True) for e in pair])

    helpers.wait_processed(worker.url, "shifted", LENGTH)
    state = helpers.wait_processed(worker.url, "control", LENGTH)
    drift_reader.poll(1.0)

    started = drift_reader.transitions("shifted")
    assert sorted(e.feature for e in started) == ["n1", "n7"]
    assert all(e.occurred_at >= shifted[CHANGE_AT].occurred_at for e in started)
    assert [e.state for e in drift_reader.events if e.model_id == "shifted" and e.kind == "data"] == ["started"]
    assert [e for e in drift_reader.events if e.model_id == "control" and e.state != "snapshot"] == []
    assert state["drifting_features"] == []
    assert state["reference"]["version"] == 1
