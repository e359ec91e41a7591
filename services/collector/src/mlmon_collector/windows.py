"""Tumbling event-time metrics windows per model, with allowed lateness and re-emission.

Predictions are assigned by their ``occurred_at``, outcomes by their ``predicted_at`` (so a label
arriving hours later still improves the window its prediction belongs to). The caller advances a
watermark with :meth:`MetricsWindows.close_due`:

* a window ``[start, end)`` is emitted (revision 0) once ``watermark >= end``;
* until ``watermark >= end + allowed_lateness`` it stays amendable: late predictions/outcomes update
  it and the next ``close_due`` re-emits it with ``revision + 1``; then it is evicted for good;
* an event for an evicted window is dropped and counted in ``dropped_late``.

Memory is bounded: at most ``max_windows_per_model`` windows per model (the oldest is evicted
early, emitted if it has unpublished changes, and counted in ``evicted_early``), confusion counts
are per class pair, regression errors are running sums, and latencies are a reservoir sample of
at most ``latency_sample_cap`` values per window. Emitted events have deterministic ids (model,
window start, revision), so a replay after a restore from :meth:`to_state` publishes the same ids.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> w = MetricsWindows(window_s=60, allowed_lateness_s=120)
>>> w.add_prediction(PredictionEvent(model_id="m", prediction_id="a", prediction=1, occurred_at=t0))
True
>>> [(e.revision, e.values["count"]) for e in w.close_due(t0 + timedelta(seconds=60))]
[(0, 1.0)]
"""

from __future__ import annotations

import logging
import math
import uuid
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mlmon_collector.business import BusinessMetrics, OutcomeCounts, counts_from_confusion
from mlmon_collector.metrics import (
    Task,
    canonical_label,
    classification_metrics,
    latency_metrics,
    regression_metrics,
    traffic_metrics,
)
from mlmon_collector.registry import ModelRegistry
from mlmon_common.events import MetricsEvent, OutcomeEvent, PredictionEvent

logger = logging.getLogger(__name__)

METRICS_NAMESPACE = uuid.UUID("0b6a3f7e-2d4c-5e8f-a1b2-c3d4e5f60718")
STATE_VERSION = 1


def metrics_event_id(model_id: str, window_start: datetime, revision: int) -> str:
    """Deterministic id of one emission of one window."""
    key = f"{model_id}\x00{window_start.isoformat()}\x00{revision}"
    return str(uuid.uuid5(METRICS_NAMESPACE, key))


@dataclass(slots=True)
class Window:
    """The accumulator of one (model, window)."""

    model_id: str
    start: float
    count: int = 0
    errors: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))  # 8 bytes per sample
    latency_seen: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    labelled: int = 0
    reg_n: int = 0
    abs_sum: float = 0.0
    sq_sum: float = 0.0
    revision: int = -1
    dirty: bool = False

    def add_latency(self, latency_s: float, prediction_id: str, cap: int) -> None:
        """Reservoir sampling (algorithm R) with a hash of the prediction id as the random draw."""
        self.latency_seen += 1
        if len(self.latencies) < cap:
            self.latencies.append(latency_s)
            return
        j = zlib.crc32(prediction_id.encode()) % self.latency_seen
        if j < cap:
            self.latencies[j] = latency_s

    def add_outcome(self, ev: OutcomeEvent) -> None:
        self.labelled += 1
        if ev.prediction is None:
            return
        if ev.abs_error is not None:
            self.reg_n += 1
            self.abs_sum += ev.abs_error
            self.sq_sum += ev.abs_error * ev.abs_error
        if ev.correct is not None:
            self.confusion[(canonical_label(ev.label), canonical_label(ev.prediction))] += 1


class _WindowState(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, protected_namespaces=())

    model_id: str
    start: float
    count: int = Field(ge=0)
    errors: int = Field(ge=0)
    latencies: list[float]
    latency_seen: int = Field(ge=0)
    confusion: list[tuple[str, str, int]]
    labelled: int = Field(ge=0)
    reg_n: int = Field(ge=0)
    abs_sum: float = Field(ge=0)
    sq_sum: float = Field(ge=0)
    revision: int = Field(ge=-1)
    dirty: bool


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    version: int
    watermark: float | None
    dropped_late: int = Field(ge=0)
    evicted_early: int = Field(ge=0)
    evicted_upto: dict[str, float] = Field(default_factory=dict)
    windows: list[_WindowState]
    pending: list[MetricsEvent]


class MetricsWindows:
    """All models' windows; feed events, then ``close_due(watermark)`` returns metrics events."""

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        allowed_lateness_s: float = 3600.0,
        max_windows_per_model: int = 200,
        latency_sample_cap: int = 10_000,
        registry: ModelRegistry | None = None,
    ) -> None:
        if window_s <= 0 or not math.isfinite(window_s):
            raise ValueError(f"window_s must be > 0, got {window_s}")
        if allowed_lateness_s < 0:
            raise ValueError(f"allowed_lateness_s must be >= 0, got {allowed_lateness_s}")
        if max_windows_per_model < 1:
            raise ValueError(f"max_windows_per_model must be >= 1, got {max_windows_per_model}")
        if latency_sample_cap < 1:
            raise ValueError(f"latency_sample_cap must be >= 1, got {latency_sample_cap}")
        self.window_s = window_s
        self.allowed_lateness_s = allowed_lateness_s
        self.max_windows_per_model = max_windows_per_model
        self.latency_sample_cap = latency_sample_cap
        self.registry = registry or ModelRegistry()
        self._windows: dict[str, dict[float, Window]] = {}
        self._pending: list[MetricsEvent] = []
        self._watermark: float | None = None
        self._evicted_upto: dict[str, float] = {}
        self.dropped_late = 0
        self.evicted_early = 0

    # -- feeding -------------------------------------------------------------------------------
    def _window_for(self, model_id: str, ts: float) -> Window | None:
        start = math.floor(ts / self.window_s) * self.window_s
        wm = self._watermark
        expired = wm is not None and start + self.window_s + self.allowed_lateness_s <= wm
        if expired or start <= self._evicted_upto.get(model_id, -math.inf):
            self.dropped_late += 1
            return None
        windows = self._windows.setdefault(model_id, {})
        win = windows.get(start)
        if win is None:
            win = windows[start] = Window(model_id, start)
            if len(windows) > self.max_windows_per_model:
                self._evict_oldest(windows)
        if win.revision >= 0:
            win.dirty = True
        return win

    def _evict_oldest(self, windows: dict[float, Window]) -> None:
        oldest = windows.pop(min(windows))
        self._evicted_upto[oldest.model_id] = oldest.start
        self.evicted_early += 1
        if oldest.revision < 0 or oldest.dirty:
            self._pending.append(self._emit(oldest))
        logger.warning(
            "metrics window evicted early (max_windows_per_model=%d)",
            self.max_windows_per_model,
            extra={"model_id": oldest.model_id, "window_start": oldest.start},
        )

    def add_prediction(self, ev: PredictionEvent) -> bool:
        """Count one canonical prediction; False when it was too late and dropped."""
        win = self._window_for(ev.model_id, ev.occurred_at.timestamp())
        if win is None:
            return False
        win.count += 1
        if ev.error is not None:
            win.errors += 1
        if ev.latency_ms is not None:
            win.add_latency(ev.latency_ms / 1000.0, ev.prediction_id, self.latency_sample_cap)
        return True

    def add_outcome(self, ev: OutcomeEvent) -> bool:
        """Count one outcome in its prediction's window; False when it was too late and dropped."""
        win = self._window_for(ev.model_id, ev.predicted_at.timestamp())
        if win is None:
            return False
        win.add_outcome(ev)
        return True

    # -- closing -------------------------------------------------------------------------------
    def close_due(self, watermark: datetime) -> list[MetricsEvent]:
        """Emit windows that ended (rev 0) or changed since emitted (rev+1); evict expired ones."""
        wm = watermark.timestamp()
        self._watermark = wm if self._watermark is None else max(self._watermark, wm)
        wm = self._watermark
        out, self._pending = self._pending, []
        for windows in self._windows.values():
            for start in sorted(windows):
                win = windows[start]
                end = start + self.window_s
                if end > wm:
                    break
                if win.revision < 0 or win.dirty:
                    out.append(self._emit(win))
                if end + self.allowed_lateness_s <= wm:
                    del windows[start]
        return out

    def _emit(self, win: Window) -> MetricsEvent:
        win.revision += 1
        win.dirty = False
        start = datetime.fromtimestamp(win.start, UTC)
        task, values = self._values(win)
        return MetricsEvent(
            event_id=metrics_event_id(win.model_id, start, win.revision),
            occurred_at=datetime.fromtimestamp(win.start + self.window_s, UTC),
            model_id=win.model_id,
            window_start=start,
            window_end=datetime.fromtimestamp(win.start + self.window_s, UTC),
            revision=win.revision,
            task=task,
            values=values,
        )

    def _values(self, win: Window) -> tuple[Task, dict[str, float]]:
        entry = self.registry.get(win.model_id)
        task: Task = entry.task if entry else "unknown"
        positive = entry.positive_label if entry else None
        values = traffic_metrics(win.count, win.errors, win.labelled, self.window_s)
        values.update(latency_metrics(win.latencies))
        if task != "classification":  # a registered task picks its metrics; unknown gets both
            values.update(regression_metrics(win.reg_n, win.abs_sum, win.sq_sum))
        if task != "regression":
            values.update(classification_metrics(win.confusion, positive))
        if entry is not None and entry.value_model is not None and (win.confusion or win.reg_n):
            counts = counts_from_confusion(win.confusion, positive)
            counts = OutcomeCounts(
                counts.tp, counts.fp, counts.fn, counts.tn, regression_n=win.reg_n, abs_error_sum=win.abs_sum
            )
            values.update(BusinessMetrics.calculate_impact(entry.value_model, counts).as_values())
        return task, values

    # -- introspection and checkpoints ---------------------------------------------------------
    def open_windows(self) -> int:
        return sum(len(w) for w in self._windows.values())

    @property
    def watermark(self) -> datetime | None:
        return None if self._watermark is None else datetime.fromtimestamp(self._watermark, UTC)

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable checkpoint (restore with :meth:`from_state`)."""
        windows = [
            _WindowState(
                model_id=w.model_id,
                start=w.start,
                count=w.count,
                errors=w.errors,
                latencies=list(w.latencies),
                latency_seen=w.latency_seen,
                confusion=[(t, p, n) for (t, p), n in sorted(w.confusion.items())],
                labelled=w.labelled,
                reg_n=w.reg_n,
                abs_sum=w.abs_sum,
                sq_sum=w.sq_sum,
                revision=w.revision,
                dirty=w.dirty,
            )
            for model in self._windows.values()
            for w in model.values()
        ]
        state = _State(
            version=STATE_VERSION,
            watermark=self._watermark,
            dropped_late=self.dropped_late,
            evicted_early=self.evicted_early,
            evicted_upto=dict(self._evicted_upto),
            windows=windows,
            pending=list(self._pending),
        )
        return state.model_dump(mode="json")

    @classmethod
    def from_state(cls, state: dict[str, Any], **params: Any) -> MetricsWindows:
        """Rebuild from :meth:`to_state` output; ``params`` are the constructor's keyword arguments.

        Raises ``pydantic.ValidationError`` (naming the field) on a malformed state and
        ``ValueError`` on an unknown state version.
        """
        parsed = _State.model_validate(state)
        if parsed.version != STATE_VERSION:
            raise ValueError(f"version: unsupported windows state version {parsed.version}")
        self = cls(**params)
        self._watermark = parsed.watermark
        self.dropped_late = parsed.dropped_late
        self.evicted_early = parsed.evicted_early
        self._evicted_upto = dict(parsed.evicted_upto)
        self._pending = list(parsed.pending)
        for ws in parsed.windows:
            data = ws.model_dump()
            data["confusion"] = Counter({(t, p): n for t, p, n in ws.confusion})
            data["latencies"] = array("d", ws.latencies)
            self._windows.setdefault(ws.model_id, {})[ws.start] = Window(**data)
        return self
