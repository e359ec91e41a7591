"""The ``collector`` section of the mlmon YAML config (file named by ``MLMON_CONFIG``).

>>> cfg = CollectorConfig.model_validate({"window_s": 30, "models": [{"model_id": "m", "task": "regression"}]})
>>> cfg.window_s, cfg.allowed_lateness_s, cfg.join_ttl_s, len(cfg.registry())
(30.0, 3600.0, 604800.0, 1)
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlmon_collector.registry import ModelEntry, ModelRegistry

DAY_S = 24 * 3600.0


class CollectorConfig(BaseModel):
    """Collector settings that belong in the shared YAML file (env-only settings live in settings.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    window_s: float = Field(default=60.0, gt=0, le=DAY_S, description="Tumbling metrics window length.")
    allowed_lateness_s: float = Field(
        default=3600.0,
        ge=0,
        le=7 * DAY_S,
        description="How long after its end a window still accepts late events (and is re-emitted).",
    )
    max_windows_per_model: int = Field(
        default=200, ge=1, description="Memory bound: open + closed-but-amendable windows kept per model."
    )
    latency_sample_cap: int = Field(
        default=10_000, ge=10, description="Latencies kept per window (reservoir sample beyond)."
    )
    join_ttl_s: float = Field(default=7 * DAY_S, gt=0, description="Pending prediction TTL in the join.")
    join_max_pending: int = Field(default=1_000_000, ge=1, description="Memory bound of the join.")
    resource_interval_s: float = Field(default=15.0, gt=0, description="Resource agent sample period.")
    models: list[ModelEntry] = Field(default_factory=list, description="The model registry.")

    @model_validator(mode="after")
    def _unique_models(self) -> Self:
        ids = [m.model_id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"models: duplicate model_id {dupes}")
        return self

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.models)
