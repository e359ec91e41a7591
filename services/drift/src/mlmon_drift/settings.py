"""Settings of the drift service: ``MLMON_*`` (shared) and ``MLMON_DRIFT_*`` (its own).

Detector settings live in the ``drift:`` section of the YAML config (:class:`mlmon_drift.config.DriftSection`,
with per-model overrides); ``MLMON_DRIFT_REFERENCE_SIZE`` / ``MLMON_DRIFT_WINDOW_EVENTS`` /
``MLMON_DRIFT_LONG_WINDOWS`` override its defaults (small values for tests and demos). The rest are process knobs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from mlmon_common.config import load_section
from mlmon_common.settings import HttpSettings, ServiceSettings
from mlmon_drift.config import DriftSection


class DriftOptions(BaseModel):
    """``MLMON_DRIFT_*``: options of this service only."""

    reference_size: int | None = Field(None, ge=50, description="override drift.reference_size of the config")
    window_events: int | None = Field(None, ge=20, description="override drift.window_events of the config")
    long_windows: int | None = Field(None, ge=1, le=50, description="override drift.long_windows of the config")
    checkpoint_interval_s: float = Field(
        5.0, gt=0, description="state of every changed model is saved to Redis, then offsets committed, this often"
    )
    checkpoint_every_events: int = Field(
        50_000, ge=1, description="... or after this many events (all models), whichever comes first"
    )
    snapshot_interval_s: float = Field(60.0, gt=0, description="how often a score snapshot per model is published")
    reference_poll_s: float = Field(
        2.0, gt=0, description="how often uploaded references and reset requests are looked up in Redis"
    )
    web_port: int = Field(0, ge=0, le=65535, description="port of faust's own web server on 127.0.0.1 (0 = any free)")
    stall_after_s: float = Field(15.0, gt=0, description="/readyz fails when the stream loop is silent this long")
    uvloop: bool = Field(True, description="run the stream on uvloop (about 30 % more records per CPU-second)")
    max_batch: int = Field(
        500, ge=1, description="records per consumer poll; each partition's share reaches the agent as one batch event"
    )


class DriftSettings(ServiceSettings):
    http: HttpSettings = Field(default_factory=lambda: HttpSettings(port=8002))
    drift: DriftOptions = Field(default_factory=DriftOptions)

    def detection(self) -> DriftSection:
        """The ``drift`` config section with the ``MLMON_DRIFT_*`` overrides applied (validated)."""
        section = load_section(Path(self.config) if self.config else None, "drift", DriftSection)
        overrides = {
            k: v
            for k, v in (
                ("reference_size", self.drift.reference_size),
                ("window_events", self.drift.window_events),
                ("long_windows", self.drift.long_windows),
            )
            if v is not None
        }
        return DriftSection.model_validate({**section.model_dump(), **overrides}) if overrides else section
