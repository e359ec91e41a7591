from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from mlmon_maintenance.config import Verification
from mlmon_maintenance.retrain import (
    EXIT_BAD_INPUT,
    EXIT_PROMOTED,
    EXIT_REJECTED,
    LogisticModel,
    Row,
    load_rows,
    main,
    train,
)
from mlmon_maintenance.verify import evaluate, split_recent, verify

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _rows(n: int, seed: int = 7, flip_after: int | None = None) -> list[Row]:
    """label = 1 iff x1 + 0.5 x2 > 0 (after ``flip_after`` rows the concept flips: drift)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x1, x2 = float(rng.normal()), float(rng.normal())
        label = int(x1 + 0.5 * x2 > 0)
        if flip_after is not None and i >= flip_after:
            label = 1 - label
        out.append(Row(features={"x1": x1, "x2": x2, "name": "a"}, label=label, occurred_at=T0 + timedelta(minutes=i)))
    return out


class Fixed:
    def __init__(self, p: list[float], y: list[float]) -> None:
        self.p, self.y = np.array(p), np.array(y)

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        return self.p

    def targets(self, rows: Sequence[Row]) -> np.ndarray:
        return self.y


ROWS4 = [Row(features={}, label=0)] * 4


def test_evaluate_exact_values() -> None:
    # predictions [1,0,1,0] vs labels [1,0,0,1] -> accuracy 0.5
    # log loss = -(ln .9 + ln .8 + ln .4 + ln .4) / 4 = (0.1053605 + 0.2231436 + 0.9162907 * 2) / 4 = 0.5402714
    got = evaluate(Fixed([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 1]), ROWS4)
    assert got == {"accuracy": 0.5, "log_loss": 0.540271}


def test_evaluate_empty_rejected() -> None:
    with pytest.raises(ValueError, match="rows: cannot evaluate on an empty window"):
        evaluate(Fixed([], []), [])


def test_verify_decisions_exact() -> None:
    cfg = Verification(margin=0.05)
    good = Fixed([0.9, 0.2, 0.4, 0.6], [1, 0, 0, 1])  # accuracy 1.0
    half = Fixed([0.9, 0.2, 0.6, 0.4], [1, 0, 0, 1])  # accuracy 0.5
    promoted = verify(good, half, ROWS4, cfg)
    assert (promoted.decision, promoted.improvement) == ("promote", 0.5)
    assert promoted.before == {"accuracy": 0.5, "log_loss": 0.540271}
    assert promoted.after["accuracy"] == 1.0
    assert promoted.reason == "accuracy improvement 0.5 meets margin 0.05"
    rejected = verify(half, good, ROWS4, cfg)
    assert (rejected.decision, rejected.improvement) == ("reject", -0.5)
    assert rejected.reason == "accuracy improvement -0.5 is below margin 0.05"
    same = verify(half, half, ROWS4, Verification(margin=0.0))
    assert same.decision == "promote"
    assert verify(half, half, ROWS4, cfg).decision == "reject"
    first = verify(half, None, ROWS4, cfg)
    assert (first.decision, first.before, first.reason) == ("promote", None, "no current model")
    assert first.as_dict()["holdout_rows"] == 4


def test_verify_log_loss_lower_is_better() -> None:
    sharp = Fixed([0.99, 0.01, 0.01, 0.99], [1, 0, 0, 1])
    vague = Fixed([0.6, 0.4, 0.4, 0.6], [1, 0, 0, 1])
    result = verify(sharp, vague, ROWS4, Verification(metric="log_loss", margin=0.1))
    # vague: -ln 0.6 = 0.510826 ; sharp: -ln 0.99 = 0.01005
    assert result.before == {"accuracy": 1.0, "log_loss": 0.510826}
    assert result.after == {"accuracy": 1.0, "log_loss": 0.01005}
    assert result.improvement == 0.500776
    assert result.decision == "promote"


def test_split_recent() -> None:
    rows = _rows(10)
    older, recent = split_recent(rows, 0.25, 3)
    assert (len(older), len(recent)) == (7, 3)
    assert recent == rows[7:]
    with pytest.raises(ValueError, match=r"holdout: 3 recent rows \(of 10\) < min_holdout_rows 4"):
        split_recent(rows, 0.25, 4)
    with pytest.raises(ValueError, match=r"holdout: fraction 0\.99 leaves no rows to train on"):
        split_recent(rows, 0.99, 1)


def test_train_learns_the_concept() -> None:
    rows = _rows(600)
    model = train(rows[:500])
    assert model.features == ["x1", "x2"]
    assert model.classes == [0, 1]
    assert model.trained_rows == 500
    assert evaluate(model, rows[500:])["accuracy"] >= 0.95
    w1, w2 = model.weights
    assert w1 > w2 > 0  # x1 matters about twice as much as x2


def test_train_converges_to_the_regularised_optimum() -> None:
    rows = _rows(200, seed=1, flip_after=None)
    noisy = [Row(features=r.features, label=1 - r.label if i % 7 == 0 else r.label) for i, r in enumerate(rows)]
    model = train(noisy, l2=0.01, epochs=5000)
    x, y = model.matrix(noisy), model.targets(noisy)
    p = model.predict_proba(noisy)
    w = np.asarray(model.weights)
    grad_w = x.T @ (p - y) / len(noisy) + 0.01 * w
    assert float(np.abs(grad_w).max()) < 1e-6
    assert abs(float((p - y).mean())) < 1e-6


def test_symmetric_data_gives_zero_bias() -> None:
    rows = [Row(features={"x": -1}, label="no"), Row(features={"x": 1}, label="yes")]
    model = train(rows, epochs=200)
    assert model.classes == ["no", "yes"]
    assert abs(model.bias) < 1e-12
    p = model.predict_proba(rows)
    assert p[0] == pytest.approx(1 - p[1], abs=1e-12)
    assert p[1] > 0.5


def test_missing_and_bool_features() -> None:
    rows = [
        Row(features={"x": 0, "flag": True}, label=0),
        Row(features={"x": 2, "flag": False}, label=1),
        Row(features={"flag": None}, label=1),
    ]
    model = train(rows)
    assert model.features == ["flag", "x"]
    assert model.mean == [0.5, 1.0]
    assert model.std == [0.5, 1.0]
    assert model.matrix(rows)[2].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([Row(features={"x": 1}, label=1)] * 3, r"label: need exactly 2 classes to train, got 1: \[1\]"),
        ([Row(features={"s": "a"}, label=1), Row(features={"s": "b"}, label=0)], "features: no numeric feature"),
    ],
)
def test_train_bad_input(rows: list[Row], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train(rows)


def test_model_json_roundtrip() -> None:
    model = train(_rows(100))
    again = LogisticModel.from_json(model.to_json())
    assert again == model
    with pytest.raises(ValueError, match="type: expected 'logistic_regression'"):
        LogisticModel.from_json('{"type": "tree"}')


def _write(path: Path, rows: list[Row]) -> Path:
    path.write_text("\n".join(r.model_dump_json() for r in rows) + "\n")
    return path


def test_load_rows_sorts_by_time_and_names_bad_lines(tmp_path: Path) -> None:
    rows = _rows(3)
    path = _write(tmp_path / "rows.ndjson", [rows[2], rows[0], rows[1]])
    assert load_rows(path) == rows
    bad = tmp_path / "bad.ndjson"
    bad.write_text(rows[0].model_dump_json() + "\n\n" + '{"features": {"x": 1}}\n')
    with pytest.raises(ValueError, match=r"bad\.ndjson line 3: label: Field required"):
        load_rows(bad)


def test_cli_promotes_a_better_candidate_after_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_model = train(_rows(400, seed=3))
    current = tmp_path / "current.json"
    current.write_text(old_model.to_json())
    data = _write(tmp_path / "rows.ndjson", _rows(500, seed=4, flip_after=0))  # the concept flipped
    out, report = tmp_path / "candidate.json", tmp_path / "report.json"
    argv = ["--data", str(data), "--out", str(out), "--current", str(current), "--report", str(report)]
    assert main(argv) == EXIT_PROMOTED
    doc = json.loads(report.read_text())
    assert doc["decision"] == "promote"
    assert doc["holdout_rows"] == 100
    assert doc["before"]["accuracy"] < 0.1
    assert doc["after"]["accuracy"] > 0.9
    assert json.loads(capsys.readouterr().out) == doc
    assert LogisticModel.from_json(out.read_text()).trained_rows == 400


def test_cli_rejects_when_not_better(tmp_path: Path) -> None:
    data = _write(tmp_path / "rows.ndjson", _rows(500, seed=5))
    current = tmp_path / "current.json"
    current.write_text(train(_rows(2000, seed=6)).to_json())
    argv = ["--data", str(data), "--out", str(tmp_path / "c.json"), "--current", str(current), "--margin", "0.05"]
    assert main(argv) == EXIT_REJECTED


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "rows.ndjson", _rows(20))
    assert main(["--data", str(data), "--out", str(tmp_path / "c.json")]) == EXIT_BAD_INPUT
    assert "retrain: holdout: 4 recent rows (of 20) < min_holdout_rows 50" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "missing.ndjson"), "--out", str(tmp_path / "c.json")]) == EXIT_BAD_INPUT
