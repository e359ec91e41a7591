from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mlmon_drift.reference import (
    CategoricalProfile,
    ReferenceBuilder,
    ReferenceProfile,
    category,
    is_number,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _rows() -> list[dict[str, object]]:
    return [
        {"x": float(i), "n": i % 3, "flag": i % 2 == 0, "plan": "a" if i < 6 else "b", "gap": None if i % 5 else 1.0}
        for i in range(10)
    ]


def test_column_types_moments_and_null_rates() -> None:
    p = ReferenceProfile.from_rows(_rows(), model_id="m", version=2)
    assert sorted(p.numeric) == ["gap", "n", "x"]
    assert sorted(p.categorical) == ["flag", "plan"]
    x = p.numeric["x"]
    assert x.mean == 4.5
    assert x.std == pytest.approx(2.8722813232690143)
    assert x.quantiles[3] == 4.5  # median
    assert x.sample.tolist() == [float(i) for i in range(10)]
    assert p.numeric["gap"].null_rate == pytest.approx(0.8)
    assert p.categorical["flag"].levels == {"false": 5, "true": 5}
    assert p.categorical["plan"].levels == {"a": 6, "b": 4}
    assert (p.version, p.n_events) == (2, 10)


def test_constant_column_gets_unit_std_and_standardised_sample() -> None:
    p = ReferenceProfile.from_rows([{"c": 3.0}] * 5, model_id="m")
    assert p.numeric["c"].std == 1.0
    assert p.numeric["c"].standardised_sample().tolist() == [0.0] * 5


def test_mixed_column_is_categorical_and_top_levels_are_kept() -> None:
    rows = [{"v": 1}, {"v": "one"}, {"v": "one"}, {"v": 2.5}]
    p = ReferenceProfile.from_rows(rows, model_id="m", max_categories=2)
    assert p.categorical["v"].levels == {"one": 2, "1": 1}


def test_probabilities_are_smoothed_with_an_unseen_bucket() -> None:
    probs = CategoricalProfile({"a": 75, "b": 25}, 0.0).probabilities(["a", "b"])
    assert probs.tolist() == pytest.approx([75.5 / 101.5, 25.5 / 101.5, 0.5 / 101.5])


def test_round_trip_through_json() -> None:
    p = ReferenceProfile.from_rows(_rows(), model_id="m", events_per_second=2.0, created_at=T0)
    assert ReferenceProfile.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    assert p.created_at == "2026-01-01T00:00:00+00:00"


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least one row is required"):
        ReferenceProfile.from_rows([], model_id="m")
    with pytest.raises(ValueError, match="version must be >= 1"):
        ReferenceProfile.from_rows([{"x": 1.0}], model_id="m", version=0)
    with pytest.raises(ValueError, match="invalid reference profile: missing or malformed field 'numeric'"):
        ReferenceProfile.from_dict({"model_id": "m", "version": 1, "n_events": 1})


def test_value_helpers() -> None:
    assert [is_number(v) for v in (1, 1.5, True, "1", float("nan"), None)] == [True, True, False, False, False, False]
    assert [category(v) for v in (True, False, 3, "x")] == ["true", "false", "3", "x"]


def test_builder_collects_first_rows_and_measures_rate() -> None:
    b = ReferenceBuilder("m", size=3, version=4)
    with pytest.raises(ValueError, match="reference needs 3 rows, has 0"):
        b.profile()
    for i in range(5):
        b.add({"x": float(i)}, T0 + timedelta(seconds=2 * i))
    assert b.ready
    assert len(b.rows) == 3
    assert b.events_per_second() == 0.5
    p = b.profile()
    assert (p.version, p.n_events, p.events_per_second) == (4, 3, 0.5)
    with pytest.raises(ValueError, match="size must be >= 1"):
        ReferenceBuilder("m", size=0)


def test_builder_rate_unknown_without_time_span() -> None:
    b = ReferenceBuilder("m", size=2)
    assert b.events_per_second() is None
    b.add({"x": 1.0}, T0)
    b.add({"x": 2.0}, T0)
    assert b.events_per_second() is None
