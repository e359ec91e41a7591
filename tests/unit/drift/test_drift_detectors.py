from __future__ import annotations

import numpy as np
import pytest
from river import drift
from river.drift import binary

from mlmon_drift.detectors import Cusum, CusumBank, make_detector


def test_cusum_hand_computed() -> None:
    det = Cusum(k=0.5, h=2.0)
    flags = [det.update(1.0).drift_detected for _ in range(5)]
    assert flags == [False, False, False, False, True]
    assert det.pos == 2.5
    det.update(1.0)  # restarts after a detection
    assert (det.pos, det.drift_detected) == (0.5, False)


def test_cusum_negative_side_and_clipping() -> None:
    assert Cusum(k=0.5, h=2.0).update(-3.0).drift_detected
    det = Cusum(k=0.5, h=4.0, clip=5.0).update(100.0)
    assert (det.pos, det.drift_detected) == (4.5, True)
    assert (det.k, det.h, det.clip) == (0.5, 4.0, 5.0)


def test_cusum_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"Cusum: k must be >= 0, h > 0, clip > 0 \(got k=-1"):
        Cusum(k=-1)


def test_cusum_bank_matches_scalar_cusum() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(0.6, 1, size=(300, 3))
    bank = CusumBank(3, k=0.5, h=4.0)
    scalars = [Cusum(k=0.5, h=4.0) for _ in range(3)]
    for row in z:
        alarmed = bank.update(row[None, :])
        assert alarmed.tolist() == [s.update(v).drift_detected for s, v in zip(scalars, row, strict=True)]


def test_cusum_bank_skips_nans_and_round_trips() -> None:
    bank = CusumBank(2, k=0.5, h=10.0)
    bank.update(np.array([[1.0, np.nan], [1.0, 2.0]]))
    assert bank.to_state() == {"pos": [1.0, 1.5], "neg": [0.0, 0.0]}
    other = CusumBank(2)
    other.load_state(bank.to_state())
    assert other.pos.tolist() == [1.0, 1.5]
    with pytest.raises(ValueError, match="CusumBank: expected 2 columns, got 3"):
        bank.update(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="feature count does not match"):
        CusumBank(3).load_state(bank.to_state())


def test_factory_builds_river_detectors() -> None:
    assert isinstance(make_detector("ADWIN"), drift.ADWIN)
    assert isinstance(make_detector("HDDM_W"), binary.HDDMW)
    assert make_detector("PageHinkley", threshold=10.0).threshold == 10.0
    with pytest.raises(ValueError, match="detector: unknown name 'CUSUM'; valid: ADWIN, PageHinkley"):
        make_detector("CUSUM")
