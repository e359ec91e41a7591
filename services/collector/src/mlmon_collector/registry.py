"""The model registry: what each monitored model looks like, and schema checks against it.

An entry names the model's task, its features (type, allowed categories, numeric range, nullability)
and its business value model. :meth:`ModelRegistry.check` compares a prediction's features with the
schema and returns a :class:`~mlmon_common.events.DataQuality`; :meth:`ModelRegistry.enrich` returns
the canonical copy of the event with ``data_quality`` set. A prediction is never dropped: an
unregistered model gets a ``DataQuality`` with only ``unregistered_model`` set (nothing to check against).

>>> reg = ModelRegistry([ModelEntry(model_id="churn", task="classification", features=[
...     FeatureSpec(name="age", type="integer", min=0, max=120),
...     FeatureSpec(name="plan", type="category", categories=["basic", "pro"])])])
>>> ev = PredictionEvent(model_id="churn", prediction_id="p1", features={"age": 200, "zip": "1"})
>>> q = reg.check(ev)
>>> q.out_of_range, q.missing_features, q.unknown_features
(['age'], ['plan'], ['zip'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlmon_collector.business import ValueModel
from mlmon_common.events import DataQuality, Identifier, PredictionEvent

FeatureType = Literal["number", "integer", "boolean", "string", "category"]
RegistryTask = Literal["classification", "regression"]
Scalar = bool | int | float | str


class FeatureSpec(BaseModel):
    """One input feature: its type, and for numbers a range, for categories the allowed values."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=200)
    type: FeatureType
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    nullable: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        numeric = self.type in ("number", "integer")
        if not numeric and (self.min is not None or self.max is not None):
            raise ValueError(f"feature {self.name!r}: min/max only apply to number/integer, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name!r}: min ({self.min}) > max ({self.max})")
        if (self.type == "category") != (self.categories is not None):
            raise ValueError(f"feature {self.name!r}: categories are required for, and only for, type category")
        if self.categories is not None and not self.categories:
            raise ValueError(f"feature {self.name!r}: categories must not be empty")
        return self

    @cached_property
    def category_set(self) -> frozenset[str]:
        return frozenset(self.categories or ())


class ModelEntry(BaseModel):
    """A registered model."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, protected_namespaces=())

    model_id: Identifier
    task: RegistryTask
    positive_label: Scalar | None = Field(
        default=None, description="Classification: the positive class (binary metrics); None = multiclass."
    )
    features: list[FeatureSpec] = Field(default_factory=list)
    value_model: ValueModel | None = None
    description: str = ""

    @model_validator(mode="after")
    def _unique_features(self) -> Self:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model {self.model_id!r}: duplicate feature names {dupes}")
        if self.task == "regression" and self.positive_label is not None:
            raise ValueError(f"model {self.model_id!r}: positive_label only applies to classification")
        return self

    @cached_property
    def feature_map(self) -> dict[str, FeatureSpec]:
        """Feature name -> spec."""
        return {f.name: f for f in self.features}

    def feature(self, name: str) -> FeatureSpec | None:
        return self.feature_map.get(name)

    @cached_property
    def all_clean(self) -> Callable[[dict[str, Scalar | None]], bool]:
        """A cheap test that is True only when every feature is present, known and clean (False: take the
        full check). Compiled once per entry into straight-line code: the hot path of every prediction."""
        return _compile_all_clean(self.features)


_MISSING = object()


def _clean_test(i: int, spec: FeatureSpec) -> str:
    """Source of a test of ``v{i}`` that is True only for a clean value (range bounds are names bound in the
    namespace, never spelled: no value of the config ends up in the generated source)."""
    v = f"v{i}"
    if spec.type == "number":
        return f"(type({v}) is float or type({v}) is int) and lo{i} <= {v} <= hi{i}"
    if spec.type == "integer":
        return f"type({v}) is int and lo{i} <= {v} <= hi{i}"
    if spec.type == "boolean":
        return f"type({v}) is bool"
    if spec.type == "category":
        return f"type({v}) is str and {v} in cats{i}"
    return f"type({v}) is str"


def _compile_all_clean(specs: list[FeatureSpec]) -> Callable[[dict[str, Scalar | None]], bool]:
    namespace: dict[str, object] = {"MISSING": _MISSING}
    lines = ["def all_clean(f):", f"    if len(f) != {len(specs)}:", "        return False"]
    for i, spec in enumerate(specs):
        namespace[f"name{i}"] = spec.name
        namespace[f"lo{i}"] = -math.inf if spec.min is None else spec.min
        namespace[f"hi{i}"] = math.inf if spec.max is None else spec.max
        namespace[f"cats{i}"] = spec.category_set
        lines += [f"    v{i} = f.get(name{i}, MISSING)", f"    if not ({_clean_test(i, spec)}):"]
        lines.append("        return False")
    lines.append("    return True")
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from fixed fragments only
    return namespace["all_clean"]  # type: ignore[return-value]


def _type_ok(spec: FeatureSpec, value: Scalar) -> bool:
    if spec.type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if spec.type == "number":
        return isinstance(value, int | float)
    if spec.type == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if spec.type == "category":
        return isinstance(value, str | int)
    return isinstance(value, str)


def _in_range(spec: FeatureSpec, value: Scalar) -> bool:
    if spec.categories is not None:
        return (value if isinstance(value, str) else str(value)) in spec.category_set
    if isinstance(value, int | float) and not isinstance(value, bool):
        too_low = spec.min is not None and value < spec.min
        too_high = spec.max is not None and value > spec.max
        return not (too_low or too_high)
    return True


def _clean(spec: FeatureSpec | None, value: Scalar | None) -> bool:
    return spec is not None and value is not None and _type_ok(spec, value) and _in_range(spec, value)


#: The data quality of a prediction without any finding (shared: the model is frozen).
CLEAN = DataQuality()
#: The data quality of a prediction of a model the registry does not know.
UNREGISTERED = DataQuality(unregistered_model=True)


def check_features(entry: ModelEntry, features: dict[str, Scalar | None]) -> DataQuality:
    """Schema check of one feature dict; lists are sorted by feature name.

    Every null is listed in ``null_features``; a null in a non-nullable feature is also a
    ``type_mismatch`` (so it counts as a violation). A category value is compared as text.
    """
    if entry.all_clean(features):  # the common case: every feature clean, no lists built
        return CLEAN
    schema = entry.feature_map
    if len(features) == len(schema) and all(_clean(schema.get(n), v) for n, v in features.items()):
        return CLEAN
    unknown = sorted(n for n in features if n not in schema)
    missing = sorted(n for n in schema if n not in features)
    nulls, mismatch, out_of_range = [], [], []
    for name in sorted(n for n in features if n in schema):
        spec, value = schema[name], features[name]
        if value is None:
            nulls.append(name)
            if not spec.nullable:
                mismatch.append(name)
        elif not _type_ok(spec, value):
            mismatch.append(name)
        elif not _in_range(spec, value):
            out_of_range.append(name)
    return DataQuality(
        unknown_features=unknown,
        missing_features=missing,
        out_of_range=out_of_range,
        type_mismatch=mismatch,
        null_features=nulls,
    )


class ModelRegistry:
    """Registered models by id (built from the validated config)."""

    def __init__(self, entries: Iterable[ModelEntry] = ()) -> None:
        self._entries: dict[str, ModelEntry] = {}
        for entry in entries:
            if entry.model_id in self._entries:
                raise ValueError(f"models: model_id {entry.model_id!r} is registered twice")
            self._entries[entry.model_id] = entry

    def get(self, model_id: str) -> ModelEntry | None:
        return self._entries.get(model_id)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def check(self, prediction: PredictionEvent) -> DataQuality:
        entry = self._entries.get(prediction.model_id)
        return UNREGISTERED if entry is None else check_features(entry, prediction.features)

    def enrich(self, prediction: PredictionEvent) -> PredictionEvent:
        """The canonical copy: same event (same ``event_id``) with ``data_quality`` set."""
        return prediction.model_copy(update={"data_quality": self.check(prediction)})
