"""Simulated fleet scenarios: models, their features, label behaviour and scripted incidents.

A scenario is a small YAML/dict document validated here; :mod:`mlmon_collector.simulate` runs it.
Times are seconds from the scenario start; an incident is active from ``start_s`` (or the model's
prediction number ``start_index``) until ``end_s``/``end_index`` (exclusive; open-ended if unset).

Incident kinds and their parameters:

* ``mean_shift`` (``feature``, ``shift``): add ``shift`` to a numeric feature;
* ``variance_change`` (``feature``, ``factor``): multiply a numeric feature's std;
* ``category_shift`` (``feature``, ``weights``): draw a categorical feature with new weights;
* ``concept_drift`` (``coefficients``, default: all negated): the true relation changes, the
  model keeps predicting with the old one;
* ``latency_spike`` (``factor``): multiply latencies;
* ``error_burst`` (``error_rate``): failed predictions at that rate.

>>> s = default_scenario()
>>> [m.model_id for m in s.models], [i.kind for i in s.incidents]
(['churn', 'fraud', 'eta'], ['mean_shift', 'category_shift', 'latency_spike', 'error_burst'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from mlmon_collector.registry import FeatureSpec, ModelEntry
from mlmon_common.events import Identifier

_CFG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, protected_namespaces=())
IncidentKind = Literal[
    "mean_shift", "variance_change", "category_shift", "concept_drift", "latency_spike", "error_burst"
]
_NEEDS_FEATURE = {"mean_shift", "variance_change", "category_shift"}


class NumericFeature(BaseModel):
    model_config = _CFG
    kind: Literal["numeric"] = "numeric"
    name: str = Field(min_length=1)
    mean: float = 0.0
    std: float = Field(default=1.0, ge=0)
    seasonality_amplitude: float = 0.0
    seasonality_period_s: float = Field(default=86_400.0, gt=0)
    min: float | None = None
    max: float | None = None
    decimals: int = Field(default=3, ge=0, le=12)


class CategoricalFeature(BaseModel):
    model_config = _CFG
    kind: Literal["categorical"] = "categorical"
    name: str = Field(min_length=1)
    categories: list[str] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Self:
        _check_weights(self.name, self.categories, self.weights)
        return self


def _feature_kind(value: Any) -> str:
    kind = value.get("kind", "numeric") if isinstance(value, dict) else getattr(value, "kind", "numeric")
    return str(kind)


#: ``kind`` defaults to numeric, so a YAML feature without it is a numeric one.
Feature = Annotated[
    Annotated[NumericFeature, Tag("numeric")] | Annotated[CategoricalFeature, Tag("categorical")],
    Discriminator(_feature_kind),
]


def _check_weights(name: str, categories: list[str], weights: list[float] | None) -> None:
    if weights is None:
        return
    if len(weights) != len(categories):
        raise ValueError(f"feature {name!r}: {len(weights)} weights for {len(categories)} categories")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"feature {name!r}: weights must be >= 0 with a positive sum")


class ModelSim(BaseModel):
    """One simulated model. The latent score is ``intercept + Σ coefficient·x`` (a categorical
    feature contributes ``coefficients["feature=category"]``); classification labels are
    ``latent + noise > 0``, regression targets ``latent + noise``; the model predicts from
    the noiseless latent."""

    model_config = _CFG
    model_id: Identifier
    model_version: str = "v1"
    task: Literal["classification", "regression"]
    rate_per_s: float = Field(default=2.0, gt=0, le=100_000)
    features: list[Feature] = Field(min_length=1)
    coefficients: dict[str, float] = Field(default_factory=dict)
    intercept: float = 0.0
    noise_std: float = Field(default=0.5, ge=0)
    latency_ms_median: float = Field(default=40.0, gt=0)
    latency_sigma: float = Field(default=0.3, ge=0)
    error_rate: float = Field(default=0.001, ge=0, le=1)
    label_delay_s_mean: float = Field(default=120.0, ge=0)
    label_missing_rate: float = Field(default=0.1, ge=0, le=1)
    label_early_rate: float = Field(default=0.0, ge=0, le=1, description="Labels sent before the prediction.")
    label_duplicate_rate: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _coefficients_name_features(self) -> Self:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.model_id!r}: duplicate feature names")
        valid = {f.name for f in self.features if f.kind == "numeric"} | {
            f"{f.name}={c}" for f in self.features if isinstance(f, CategoricalFeature) for c in f.categories
        }
        unknown = sorted(set(self.coefficients) - valid)
        if unknown:
            raise ValueError(f"model {self.model_id!r}: coefficients for unknown features {unknown}")
        return self

    def feature(self, name: str) -> NumericFeature | CategoricalFeature | None:
        return next((f for f in self.features if f.name == name), None)

    def registry_entry(self) -> ModelEntry:
        """The registry entry the collector needs to check this model's predictions."""
        specs = [
            FeatureSpec(name=f.name, type="category", categories=f.categories)
            if isinstance(f, CategoricalFeature)
            else FeatureSpec(name=f.name, type="number", min=f.min, max=f.max)
            for f in self.features
        ]
        positive = 1 if self.task == "classification" else None
        return ModelEntry(model_id=self.model_id, task=self.task, positive_label=positive, features=specs)


class Incident(BaseModel):
    model_config = _CFG
    kind: IncidentKind
    model_id: Identifier
    start_s: float | None = Field(default=None, ge=0)
    end_s: float | None = Field(default=None, ge=0)
    start_index: int | None = Field(default=None, ge=0)
    end_index: int | None = Field(default=None, ge=0)
    feature: str | None = None
    shift: float = 0.0
    factor: float = Field(default=1.0, ge=0)
    weights: list[float] | None = None
    coefficients: dict[str, float] | None = None
    error_rate: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if (self.start_s is None) == (self.start_index is None):
            raise ValueError(f"{self.kind} incident on {self.model_id!r}: set exactly one of start_s, start_index")
        if (self.start_s is None and self.end_s is not None) or (
            self.start_index is None and self.end_index is not None
        ):
            raise ValueError(f"{self.kind} incident on {self.model_id!r}: end must use the same unit as start")
        if self.kind in _NEEDS_FEATURE and self.feature is None:
            raise ValueError(f"{self.kind} incident on {self.model_id!r}: feature is required")
        if self.kind == "category_shift" and self.weights is None:
            raise ValueError(f"category_shift incident on {self.model_id!r}: weights are required")
        return self

    def active(self, offset_s: float, index: int) -> bool:
        if self.start_s is not None:
            return self.start_s <= offset_s and (self.end_s is None or offset_s < self.end_s)
        assert self.start_index is not None
        return self.start_index <= index and (self.end_index is None or index < self.end_index)


class Scenario(BaseModel):
    model_config = _CFG
    seed: int = 42
    start: AwareDatetime | None = Field(default=None, description="Simulated start time (default: now).")
    duration_s: float = Field(default=600.0, gt=0)
    run_id: str = Field(default="", max_length=40, pattern=r"^[A-Za-z0-9_.]*$")
    models: list[ModelSim] = Field(min_length=1)
    incidents: list[Incident] = Field(default_factory=list)

    @model_validator(mode="after")
    def _incidents_match_models(self) -> Self:
        by_id = {m.model_id: m for m in self.models}
        if len(by_id) != len(self.models):
            raise ValueError("models: duplicate model_id")
        for i, inc in enumerate(self.incidents):
            _check_incident(i, inc, by_id.get(inc.model_id))
        return self


def _check_incident(i: int, inc: Incident, model: ModelSim | None) -> None:
    where = f"incidents.{i}"
    if model is None:
        raise ValueError(f"{where}: unknown model_id {inc.model_id!r}")
    if inc.feature is None:
        return
    feat = model.feature(inc.feature)
    wanted = "categorical" if inc.kind == "category_shift" else "numeric"
    if feat is None or feat.kind != wanted:
        raise ValueError(f"{where}: {inc.kind} needs a {wanted} feature of {model.model_id!r}, got {inc.feature!r}")
    if isinstance(feat, CategoricalFeature):
        _check_weights(feat.name, feat.categories, inc.weights)


def load_scenario(source: str | Path | dict[str, Any]) -> Scenario:
    """A scenario from a dict or a YAML file path. Raises ``pydantic.ValidationError``."""
    if isinstance(source, dict):
        return Scenario.model_validate(source)
    data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a scenario must be a YAML mapping, got {type(data).__name__}")
    return Scenario.model_validate(data)


DEFAULT_SCENARIO: dict[str, Any] = {
    "seed": 42,
    "duration_s": 600,
    "models": [
        {
            "model_id": "churn",
            "task": "classification",
            "rate_per_s": 5,
            "features": [
                {"name": "tenure_months", "mean": 24, "std": 10, "min": 0, "decimals": 0},
                {"name": "monthly_spend", "mean": 50, "std": 15, "seasonality_amplitude": 5, "min": 0},
                {"name": "support_calls", "mean": 2, "std": 1.2, "min": 0, "decimals": 0},
                {"kind": "categorical", "name": "plan", "categories": ["basic", "pro", "enterprise"],
                 "weights": [0.6, 0.3, 0.1]},
            ],
            "coefficients": {"tenure_months": -0.08, "support_calls": 0.9, "monthly_spend": 0.01,
                             "plan=basic": 0.6, "plan=enterprise": -0.8},
            "intercept": -0.2,
            "label_delay_s_mean": 60,
        },
        {
            "model_id": "fraud",
            "task": "classification",
            "rate_per_s": 5,
            "features": [
                {"name": "amount", "mean": 80, "std": 30, "min": 0, "decimals": 2},
                {"name": "account_age_days", "mean": 400, "std": 200, "min": 0, "decimals": 0},
                {"kind": "categorical", "name": "merchant", "categories": ["grocery", "travel", "electronics", "other"],
                 "weights": [0.5, 0.15, 0.15, 0.2]},
            ],
            "coefficients": {"amount": 0.03, "account_age_days": -0.004, "merchant=electronics": 1.0},
            "intercept": -2.0,
            "label_delay_s_mean": 180,
            "label_missing_rate": 0.2,
        },
        {
            "model_id": "eta",
            "task": "regression",
            "rate_per_s": 5,
            "features": [
                {"name": "distance_km", "mean": 8, "std": 4, "min": 0.1, "decimals": 2},
                {"name": "hour_load", "mean": 1, "std": 0.1, "seasonality_amplitude": 0.3,
                 "seasonality_period_s": 3600},
                {"kind": "categorical", "name": "traffic", "categories": ["low", "medium", "high"]},
            ],
            "coefficients": {"distance_km": 2.5, "hour_load": 6, "traffic=medium": 3, "traffic=high": 9},
            "intercept": 4,
            "noise_std": 2,
            "latency_ms_median": 25,
            "label_delay_s_mean": 30,
        },
    ],
    "incidents": [
        {"kind": "mean_shift", "model_id": "fraud", "start_s": 300, "feature": "amount", "shift": 60},
        {"kind": "category_shift", "model_id": "fraud", "start_s": 300, "feature": "merchant",
         "weights": [0.2, 0.2, 0.5, 0.1]},
        {"kind": "latency_spike", "model_id": "eta", "start_s": 300, "end_s": 420, "factor": 10},
        {"kind": "error_burst", "model_id": "eta", "start_s": 360, "end_s": 400, "error_rate": 0.3},
    ],
}  # fmt: skip


def default_scenario(**overrides: Any) -> Scenario:
    """The default fleet: churn (healthy), fraud (data drift at 300 s), eta (regression, latency
    spike 300-420 s and error burst 360-400 s)."""
    return Scenario.model_validate({**DEFAULT_SCENARIO, **overrides})
