"""The ``drift`` section of the mlmon YAML config, validated once with pydantic.

Defaults are the seed defaults (``data_drift_max`` 0.1, ``model_drift_max`` 0.15) and the live detector
configuration chosen with the quality harness (``mlmon_drift.evaluate``).

>>> cfg = DriftConfig()
>>> cfg.data_drift_max, cfg.reference_size, cfg.window_events
(0.1, 1000, 100)
>>> DriftConfig.model_validate({"persistence_k": 4, "persistence_n": 3})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for DriftConfig
...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

ConceptDetectorName = Literal["window", "DDM", "EDDM", "HDDM_A", "HDDM_W", "FHDDM"]

PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class DriftConfig(BaseModel):
    """Settings of drift detection for one model (the section default, or a per-model override)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference_size: Annotated[int, Field(ge=50)] = Field(
        1000, description="Events collected after registration to build the reference profile."
    )
    window_events: Annotated[int, Field(ge=20)] = Field(
        100, description="Events per test window; two-sample tests run once per window."
    )
    long_windows: Annotated[int, Field(ge=1, le=50)] = Field(
        5, description="The long test window spans this many windows (small shifts need more data)."
    )
    persistence_k: PositiveInt = Field(2, description="A feature drifts when significant in k ...")
    persistence_n: PositiveInt = Field(3, description="... of the last n windows.")
    end_after: PositiveInt = Field(5, description="A drift ends after this many quiet windows in a row.")
    confirm_with_detector: bool = Field(
        True, description="A significant window confirmed by the CUSUM detector alarms at once."
    )
    cusum_k: Annotated[float, Field(ge=0)] = 0.5
    cusum_h: Annotated[float, Field(gt=0)] = 8.0
    cusum_block: Annotated[int, Field(ge=1)] = Field(10, description="CUSUM runs on means of blocks.")
    false_alarms_per_week: Annotated[float, Field(gt=0)] = Field(
        1.0, description="Per-model false-alarm budget the window test level is calibrated to."
    )
    default_events_per_second: Annotated[float, Field(gt=0)] = Field(
        1.0, description="Event rate assumed when the reference carries no timestamps (uploads)."
    )
    max_alpha: Fraction = Field(0.01, description="Upper bound of the per-window test level.")
    psi_bins: Annotated[int, Field(ge=2, le=100)] = 10
    data_drift_max: Annotated[float, Field(ge=0, le=1)] = Field(
        0.1, description="Model-level data drift: share of drifting features above which it starts."
    )
    concept_detector: ConceptDetectorName = "window"
    concept_window: Annotated[int, Field(ge=20)] = Field(300, description="Outcomes per error-rate test window.")
    concept_long_windows: Annotated[int, Field(ge=1, le=50)] = Field(
        5, description="The long error-rate window spans this many windows."
    )
    concept_reference_size: Annotated[int, Field(ge=20)] = Field(
        2000, description="Outcomes that give the reference error rate and its variance inflation."
    )
    model_drift_max: Annotated[float, Field(ge=0)] = 0.15
    max_categories: Annotated[int, Field(ge=2)] = Field(
        200, description="Levels kept per categorical feature; rarer levels count as unseen."
    )

    @model_validator(mode="after")
    def _check_persistence(self) -> Self:
        if self.persistence_k > self.persistence_n:
            raise ValueError(f"persistence_k ({self.persistence_k}) must be <= persistence_n ({self.persistence_n})")
        return self


class DriftSection(DriftConfig):
    """The ``drift:`` section: the defaults above plus ``models: {model_id: {field: value}}`` overrides.

    Keys of the alerting thresholds that live in the same section (``data_drift_max``, ``model_drift_max``)
    are fields of :class:`DriftConfig` too.

    >>> section = DriftSection.model_validate({"window_events": 50, "models": {"churn": {"window_events": 200}}})
    >>> section.for_model("churn").window_events, section.for_model("other").window_events
    (200, 50)
    """

    models: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per-model overrides.")

    @model_validator(mode="after")
    def _check_models(self) -> Self:
        for model_id in self.models:
            self.for_model(model_id)  # raises a ValidationError naming the bad field
        return self

    def for_model(self, model_id: str) -> DriftConfig:
        base = self.model_dump(exclude={"models"})
        return DriftConfig.model_validate({**base, **self.models.get(model_id, {})})
