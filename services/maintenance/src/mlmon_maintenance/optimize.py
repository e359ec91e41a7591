"""``auto_optimize``: concrete parameter recommendations from a model's runtime metrics.

* Drift detector too noisy — false alarms per day over budget: raise the detector threshold in proportion
  (at most doubling per step), so the next period lands near the budget.
* Latency p95 over ``latency_max`` while CPU has room: batching or too few workers is the cause, not
  compute — halve the batch size and add replicas in proportion to the overshoot.
* Latency over ``latency_max`` with CPU saturated: add replicas in proportion (compute-bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class OptimizeBudget(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    false_alarms_per_day: Annotated[float, Field(gt=0)] = 1.0
    latency_max_s: Annotated[float, Field(gt=0)] = 0.2
    spare_cpu: Annotated[float, Field(gt=0, le=1)] = 0.5
    """CPU utilisation (fraction) below which a replica has room to spare."""
    max_replicas: Annotated[int, Field(ge=1)] = 10
    max_threshold_step: Annotated[float, Field(gt=1)] = 2.0


@dataclass(frozen=True)
class ModelRuntime:
    """What ``auto_optimize`` looks at for one model over the last ``period_days``."""

    model_id: str
    period_days: float = 1.0
    false_alarms: int = 0
    detector_threshold: float | None = None
    latency_p95_s: float | None = None
    cpu: float | None = None
    batch_size: int = 1
    replicas: int = 1


@dataclass(frozen=True)
class Recommendation:
    model_id: str
    parameter: str
    current: float
    recommended: float
    reason: str


def _detector(rt: ModelRuntime, budget: OptimizeBudget) -> list[Recommendation]:
    if rt.detector_threshold is None or rt.period_days <= 0:
        return []
    rate = rt.false_alarms / rt.period_days
    if rate <= budget.false_alarms_per_day:
        return []
    factor = min(rate / budget.false_alarms_per_day, budget.max_threshold_step)
    new = round(rt.detector_threshold * factor, 6)
    reason = f"{rate:g} false alarms/day > budget {budget.false_alarms_per_day:g}"
    return [Recommendation(rt.model_id, "drift.threshold", rt.detector_threshold, new, reason)]


def _latency(rt: ModelRuntime, budget: OptimizeBudget) -> list[Recommendation]:
    if rt.latency_p95_s is None or rt.latency_p95_s <= budget.latency_max_s:
        return []
    over = rt.latency_p95_s / budget.latency_max_s
    out = []
    spare = rt.cpu is not None and rt.cpu < budget.spare_cpu
    why = f"latency p95 {rt.latency_p95_s:g}s > {budget.latency_max_s:g}s"
    if spare and rt.batch_size > 1:
        reason = f"{why} with spare cpu {rt.cpu:g}: smaller batches wait less"
        out.append(Recommendation(rt.model_id, "batch_size", rt.batch_size, max(1, rt.batch_size // 2), reason))
    replicas = min(budget.max_replicas, math.ceil(round(rt.replicas * over, 9)))
    if replicas > rt.replicas:
        kind = "spare cpu: more workers" if spare else "cpu-bound: more compute"
        reason = f"{why} ({kind})"
        out.append(Recommendation(rt.model_id, "replicas", rt.replicas, replicas, reason))
    return out


def auto_optimize(model: ModelRuntime, budget: OptimizeBudget | None = None) -> list[Recommendation]:
    """All recommendations for ``model`` (empty when it runs within budget)."""
    budget = budget or OptimizeBudget()
    return _detector(model, budget) + _latency(model, budget)
