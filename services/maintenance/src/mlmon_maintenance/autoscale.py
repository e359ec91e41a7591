"""``auto_scale``: desired replicas from CPU and consumer lag, HPA-style, with guards against flapping.

Per metric, like the Kubernetes HPA: ``desired = ceil(current * value / target)``, ignored when
``|value / target - 1| <= tolerance``; the largest proposal wins, clamped to ``[min, max]``. Lag uses a
per-replica target: ``value = lag / current``. Then:

* scale-down stabilisation: a scale-down goes only as low as the *highest* recommendation of the
  last ``scale_down_stabilization`` (one dip does not shrink the service);
* cooldowns: no scale-up within ``scale_up_cooldown`` of the last change, no scale-down within
  ``scale_down_cooldown`` (longer) — so up/down/up flapping cannot happen faster than that.

Pure: the caller keeps the returned ``ScaleHistory`` and passes it back next time.

>>> from datetime import UTC, datetime
>>> d = auto_scale(ServiceStatus("collector", 2), ScaleMetrics(cpu=0.9), ScalePolicy(), ScaleHistory(),
...                datetime(2026, 1, 1, tzinfo=UTC))
>>> (d.desired, d.reason)
(3, 'cpu 0.9 vs target 0.7 -> 3')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlmon_maintenance.durations import Duration

Direction = Literal["up", "down"]


class ScalePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_replicas: Annotated[int, Field(ge=0)] = 1
    max_replicas: Annotated[int, Field(ge=1)] = 10
    target_cpu: Annotated[float, Field(gt=0)] = 0.7
    """Average CPU utilisation per replica (fraction of its request)."""
    target_lag_per_replica: Annotated[float, Field(gt=0)] = 1000.0
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.1
    scale_down_stabilization: Duration = timedelta(minutes=5)
    scale_up_cooldown: Duration = timedelta(minutes=1)
    scale_down_cooldown: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _bounds(self) -> ScalePolicy:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) > max_replicas ({self.max_replicas})")
        return self


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    replicas: int


@dataclass(frozen=True)
class ScaleMetrics:
    cpu: float | None = None
    """Average CPU utilisation per replica, fraction (0.9 = 90 %)."""
    lag: float | None = None
    """Total consumer-group lag, messages."""


@dataclass(frozen=True)
class ScaleHistory:
    recommendations: tuple[tuple[datetime, int], ...] = ()
    last_change_at: datetime | None = None
    last_direction: Direction | None = None


@dataclass(frozen=True)
class ScaleDecision:
    service: str
    current: int
    desired: int
    recommended: int
    reason: str
    history: ScaleHistory = field(repr=False)

    @property
    def changed(self) -> bool:
        return self.desired != self.current


def _proposal(current: int, value: float, target: float, tolerance: float) -> int:
    ratio = value / target
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(round(current * ratio, 9))  # round: 2 * (2.1 / 0.7) is 6.000000000000001


def recommend(current: int, metrics: ScaleMetrics, policy: ScalePolicy) -> tuple[int, str]:
    """The HPA recommendation (clamped) and a reason naming the deciding metric."""
    proposals: list[tuple[int, str]] = []
    if metrics.cpu is not None and current > 0:
        n = _proposal(current, metrics.cpu, policy.target_cpu, policy.tolerance)
        proposals.append((n, f"cpu {metrics.cpu:g} vs target {policy.target_cpu:g} -> {n}"))
    if metrics.lag is not None:
        per_replica = metrics.lag / max(current, 1)
        n = _proposal(max(current, 1), per_replica, policy.target_lag_per_replica, policy.tolerance)
        if current == 0 and metrics.lag == 0:
            n = 0
        proposals.append((n, f"lag/replica {per_replica:g} vs target {policy.target_lag_per_replica:g} -> {n}"))
    if not proposals:
        return current, "no metrics"
    raw, reason = max(proposals, key=lambda p: p[0])
    clamped = min(max(raw, policy.min_replicas), policy.max_replicas)
    if clamped != raw:
        reason += f", clamped to {clamped}"
    return clamped, reason


def auto_scale(
    service: ServiceStatus, metrics: ScaleMetrics, policy: ScalePolicy, history: ScaleHistory, now: datetime
) -> ScaleDecision:
    """Desired replica count for ``service`` now, and the history to keep for next time."""
    current = service.replicas
    recommended, reason = recommend(current, metrics, policy)
    window_start = now - policy.scale_down_stabilization
    kept = (*((t, n) for t, n in history.recommendations if t > window_start), (now, recommended))
    desired = recommended
    if recommended < current:
        desired = min(current, max(n for _, n in kept))
        if desired != recommended:
            reason += f"; held at {desired} by the {policy.scale_down_stabilization} stabilisation window"
    direction: Direction | None = "up" if desired > current else "down" if desired < current else None
    if direction is not None and history.last_change_at is not None:
        cooldown = policy.scale_up_cooldown if direction == "up" else policy.scale_down_cooldown
        if now - history.last_change_at < cooldown:
            reason += f"; scale-{direction} in cooldown until {history.last_change_at + cooldown:%H:%M:%S}"
            desired, direction = current, None
    new_history = ScaleHistory(kept, history.last_change_at, history.last_direction)
    if direction is not None:
        new_history = ScaleHistory(kept, now, direction)
    return ScaleDecision(service.name, current, desired, recommended, reason, new_history)
