from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlmon_drift.config import DriftConfig


def test_seed_defaults() -> None:
    cfg = DriftConfig()
    assert (cfg.data_drift_max, cfg.model_drift_max, cfg.reference_size) == (0.1, 0.15, 1000)
    assert (cfg.persistence_k, cfg.persistence_n, cfg.concept_detector) == (2, 3, "window")


def test_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"persistence_k \(4\) must be <= persistence_n \(3\)"):
        DriftConfig(persistence_k=4, persistence_n=3)
    with pytest.raises(ValidationError, match="window_events\n  Input should be greater than or equal to 20"):
        DriftConfig(window_events=5)
    with pytest.raises(ValidationError, match="concept_detector\n  Input should be 'window', 'DDM'"):
        DriftConfig.model_validate({"concept_detector": "CUSUM"})
    with pytest.raises(ValidationError, match="windoww_events\n  Extra inputs are not permitted"):
        DriftConfig.model_validate({"windoww_events": 100})
