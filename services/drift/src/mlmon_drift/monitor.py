"""``ModelMonitor``: streaming drift detection for one model, events in, drift transitions out.

Per event the monitor only copies values into numpy buffers (O(features)); every ``window_events``
events it tests the window, and the long window (``long_windows`` windows), against the reference
(KS on standardised numeric values; on categorical levels a two-sample chi-square against the reference's
level counts, whose own sampling error it accounts for), applies Benjamini-Hochberg at
the budget-calibrated level, feeds a vectorised CUSUM on block means, and lets ``PersistenceGate``
decide the transitions. It returns ``DriftEvent``s only on transitions: per feature (kind ``feature``;
kind ``prediction`` for the model's score/prediction), per model (kind ``data``, score = share of
drifting input features) and for the error stream (kind ``concept``).

>>> from datetime import UTC, datetime
>>> mon = ModelMonitor("m", DriftConfig(reference_size=50, window_events=20))
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> [mon.observe({"x": float(i % 7)}, at=t) for i in range(50)][-1], mon.reference.n_events
([], 50)
>>> events = [e for i in range(200) for e in mon.observe({"x": 100.0 + i % 7}, at=t)]
>>> [(e.kind, e.state, e.feature) for e in events]
[('feature', 'started', 'x'), ('data', 'started', None)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import numpy as np

from mlmon_common.events import DriftEvent, OutcomeEvent, PredictionEvent
from mlmon_drift.alarms import PersistenceGate, benjamini_hochberg, window_alpha
from mlmon_drift.checkpoint import monitor_state, restore_monitor
from mlmon_drift.concept import ConceptTracker
from mlmon_drift.config import DriftConfig
from mlmon_drift.detectors import CusumBank
from mlmon_drift.reference import PREDICTION, SCORE, ReferenceBuilder, ReferenceProfile, category
from mlmon_drift.stats import (
    KsReference,
    chi_square_two_sample,
    clipped_moments,
    jensen_shannon,
    mean_shift_test,
    wasserstein,
)

logger = logging.getLogger(__name__)
_NUMBER = (int, float)
DriftState = Literal["started", "ended", "snapshot"]


class ModelMonitor:
    """Drift state of one model. Not thread-safe; one instance per model per worker."""

    def __init__(
        self, model_id: str, config: DriftConfig | None = None, reference: ReferenceProfile | None = None
    ) -> None:
        self.model_id = model_id
        self.config = config or DriftConfig()
        self.reference: ReferenceProfile | None = None
        self.builder: ReferenceBuilder | None = None
        self.concept = ConceptTracker(self.config)
        self.events_seen = 0
        self.last_at: datetime | None = None
        if reference is None:
            self.builder = ReferenceBuilder(model_id, self.config.reference_size, 1, self.config.max_categories)
        else:
            self._start(reference)

    # -- set-up -------------------------------------------------------------------------------
    def _start(self, reference: ReferenceProfile) -> None:
        cfg = self.config
        self.reference, self.builder = reference, None
        self.num_names = sorted(reference.numeric)
        self.cat_names = sorted(reference.categorical)
        self.names = self.num_names + self.cat_names
        profiles = [reference.numeric[n] for n in self.num_names]
        self.means = np.array([p.mean for p in profiles])
        self.stds = np.array([p.std for p in profiles])
        self.inflation = np.array([p.inflation for p in profiles])
        ref_sorted = [p.standardised_sample() for p in profiles]  # not kept: the profile has it
        self.ks = KsReference(ref_sorted)
        self.ks_abs = KsReference([np.sort(np.abs(r)) for r in ref_sorted])
        self.ref_moments = clipped_moments(ref_sorted, 3.0)
        self.ref_sizes = np.array([r.size for r in ref_sorted], dtype=np.float64)
        self.levels = [reference.categorical[n].testable_levels(5.0, cfg.window_events) for n in self.cat_names]
        self.level_index = [{lv: i for i, lv in enumerate(lv_list)} for lv_list in self.levels]
        self.cat_ref_p = [  # smoothed frequencies: the Jensen-Shannon score of events
            reference.categorical[n].probabilities(lv) for n, lv in zip(self.cat_names, self.levels, strict=True)
        ]
        self.cat_ref_counts = self._reference_counts(reference)
        w, span = cfg.window_events, cfg.window_events * cfg.long_windows
        self.buf = np.full((span, len(self.num_names)), np.nan)
        self.counts = [[[0] * (len(lv) + 1) for _ in range(cfg.long_windows)] for lv in self.levels]
        self.pending: list[list[float]] = []
        self.slot = self.filled = 0
        self.gate = PersistenceGate(len(self.names), cfg.persistence_k, cfg.persistence_n, cfg.end_after)
        self.cusum = CusumBank(len(self.num_names), cfg.cusum_k, cfg.cusum_h)
        rate = reference.events_per_second or cfg.default_events_per_second
        self.alpha = window_alpha(
            cfg.false_alarms_per_week, events_per_second=rate, window_events=w, max_alpha=cfg.max_alpha
        )
        self.last_p = np.ones(len(self.names))
        self.last_stat = np.zeros(len(self.names))
        self.data_drifting = False
        self._is_input = np.array([n not in (SCORE, PREDICTION) for n in self.names], dtype=bool)

    # -- streaming ----------------------------------------------------------------------------
    def update(self, event: PredictionEvent) -> list[DriftEvent]:
        """Feed one prediction; returns drift transitions (usually none)."""
        if event.model_id != self.model_id:
            raise ValueError(f"model_id {event.model_id!r} does not match monitor {self.model_id!r}")
        return self.observe(event.features, event.prediction, event.score, at=event.occurred_at)

    def observe(
        self,
        features: Mapping[str, Any],
        prediction: Any = None,
        score: float | None = None,
        *,
        at: datetime,
    ) -> list[DriftEvent]:
        """The fast path of ``update`` (no pydantic event): values, prediction, score, event time."""
        row = {**features, SCORE: score, PREDICTION: prediction}
        self.events_seen += 1
        self.last_at = at
        if self.builder is not None:
            self.builder.add(row, at)
            if self.builder.ready:
                self._start(self.builder.profile())
                logger.info("reference built", extra={"model_id": self.model_id})
            return []
        get = row.get
        self.pending.append([v if type(v) in _NUMBER else math.nan for v in map(get, self.num_names)])  # type: ignore[misc]
        for j, name in enumerate(self.cat_names):
            v = get(name)
            if v is not None:
                key = v if type(v) is str else category(v)
                self.counts[j][self.slot][self.level_index[j].get(key, -1)] += 1
        if len(self.pending) < self.config.window_events:
            return []
        return self._close_window(at)

    def update_outcome(self, event: OutcomeEvent) -> list[DriftEvent]:
        """Feed one joined outcome (classification: ``correct``) to the concept-drift detector."""
        if event.model_id != self.model_id:
            raise ValueError(f"model_id {event.model_id!r} does not match monitor {self.model_id!r}")
        if event.correct is None:
            return []
        return self.observe_outcome(not event.correct, at=event.occurred_at)

    def observe_outcome(self, error: bool, *, at: datetime) -> list[DriftEvent]:
        """The fast path of ``update_outcome``: whether the prediction was wrong, event time."""
        self.last_at = at
        return self.concept.update(error, self.model_id, at)

    # -- window tests -------------------------------------------------------------------------
    def _ks_location_scale(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """KS on z (any change), KS on |z| (scale), winsorised mean z-test (location); Bonferroni."""
        d, p = self.ks.test(z, self.inflation)
        _, p_abs = self.ks_abs.test(np.abs(z), self.inflation)
        _, p_mean = mean_shift_test(*self.ref_moments, self.ref_sizes, z, inflation=self.inflation)
        return d, np.minimum(1.0, 3 * np.minimum(np.minimum(p, p_abs), p_mean))

    def _numeric_pvalues(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = self.config.window_events
        z_all = (self.buf - self.means) / self.stds
        z = z_all[self.slot * w : (self.slot + 1) * w]
        d, p = self._ks_location_scale(z)
        if self.filled + 1 >= self.config.long_windows > 1:
            d_long, p_long = self._ks_location_scale(z_all)
            d, p = np.maximum(d, d_long), np.minimum(1.0, 2 * np.minimum(p, p_long))
        return d, p, z

    def _reference_counts(self, reference: ReferenceProfile) -> np.ndarray:
        """(C, 1, K) reference counts of the testable levels plus the pooled rest, zero-padded to K levels.

        The rest counts every other non-null reference value, including levels beyond ``max_categories``
        that the profile does not list: a window pools those too (the non-null count is ``n_events`` times
        one minus the null rate).
        """
        width = max((len(lv) + 1 for lv in self.levels), default=1)
        out = np.zeros((len(self.cat_names), 1, width))
        for j, (name, levels) in enumerate(zip(self.cat_names, self.levels, strict=True)):
            profile = reference.categorical[name]
            kept = [profile.levels.get(lv, 0) for lv in levels]
            present = max(round(reference.n_events * (1 - profile.null_rate)), sum(profile.levels.values()))
            out[j, 0, : len(levels) + 1] = [*kept, present - sum(kept)]
        return out

    def _categorical_pvalues(self) -> tuple[np.ndarray, np.ndarray]:
        """Two-sample chi-square of the short and the long window against the reference counts (all
        categorical features in one call); the short window's statistic, p-values Bonferroni over both."""
        if not self.cat_names:
            return np.zeros(0), np.ones(0)
        windows = np.zeros((len(self.cat_names), 2, self.cat_ref_counts.shape[2]))
        for j, slots in enumerate(self.counts):
            k = len(slots[0])
            windows[j, 0, :k] = slots[self.slot]
            windows[j, 1, :k] = np.sum(slots, axis=0)
        stat, p = chi_square_two_sample(self.cat_ref_counts, windows)
        if self.filled + 1 >= self.config.long_windows > 1:
            return stat[:, 0], np.minimum(1.0, 2 * p.min(axis=1))
        return stat[:, 0], p[:, 0]

    def _confirmations(self, z: np.ndarray) -> np.ndarray:
        b = self.config.cusum_block
        blocks = z.shape[0] // b
        z = z[: blocks * b].reshape(blocks, b, -1)
        valid = ~np.isnan(z)
        sums, cnt = np.where(valid, z, 0.0).sum(axis=1), valid.sum(axis=1)
        means = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
        alarmed = self.cusum.update(means * np.sqrt(cnt / self.inflation))
        if not self.config.confirm_with_detector:
            alarmed[:] = False
        return np.concatenate((alarmed, np.zeros(len(self.cat_names), dtype=bool)))

    @property
    def pos(self) -> int:
        """Events in the current (open) window."""
        return len(self.pending)

    def _close_window(self, at: datetime) -> list[DriftEvent]:
        w = self.config.window_events
        rows = np.array(self.pending, dtype=np.float64).reshape(w, len(self.num_names))
        self.buf[self.slot * w : (self.slot + 1) * w] = rows
        self.pending = []
        d, p_num, z = self._numeric_pvalues()
        s_cat, p_cat = self._categorical_pvalues()
        self.last_p = np.concatenate((p_num, p_cat))
        self.last_stat = np.concatenate((d, s_cat))
        significant = benjamini_hochberg(self.last_p, self.alpha)
        confirmed = self._confirmations(z)
        started, ended = self.gate.update(significant, confirmed)
        self.filled += 1
        self.slot = (self.slot + 1) % self.config.long_windows
        for counts in self.counts:
            counts[self.slot] = [0] * len(counts[self.slot])
        out = [self._feature_event(i, "started", at, bool(confirmed[i])) for i in np.flatnonzero(started).tolist()]
        out += [self._feature_event(i, "ended", at, False) for i in np.flatnonzero(ended).tolist()]
        return out + self._data_transition(at)

    # -- events -------------------------------------------------------------------------------
    def _base(self, at: datetime) -> dict[str, Any]:
        return {"model_id": self.model_id, "occurred_at": at, "window_events": self.config.window_events}

    def _feature_event(self, i: int, state: DriftState, at: datetime, confirmed: bool) -> DriftEvent:
        name = self.names[i]
        numeric = i < len(self.num_names)
        details: dict[str, Any] = {"windows": self.filled, "reference_version": self.reference_version}
        if numeric:
            w = self.config.window_events
            start = ((self.slot - 1) % self.config.long_windows) * w
            z = (self.buf[start : start + w, i : i + 1] - self.means[i]) / self.stds[i]
            ref = self.reference.numeric[name].standardised_sample() if self.reference else np.zeros(0)
            details["wasserstein"] = float(wasserstein([ref], z)[0])
            score = float(self.last_stat[i])
        else:
            j = i - len(self.num_names)
            short = np.array(self.counts[j][(self.slot - 1) % self.config.long_windows])
            score = float(jensen_shannon(self.cat_ref_p[j], short)[0])
            details["jensen_shannon"] = score
        details["confirmed_by"] = "cusum" if confirmed else f"persistence {self.gate.k}/{self.gate.n}"
        return DriftEvent(
            **self._base(at),
            kind="prediction" if name in (SCORE, PREDICTION) else "feature",
            state=state,
            feature=name,
            detector="ks" if numeric else "chi2",
            score=score,
            threshold=self.alpha,
            statistic=float(self.last_stat[i]),
            p_value=float(self.last_p[i]),
            details=details,
        )

    @property
    def reference_version(self) -> int | None:
        return self.reference.version if self.reference else None

    def drifting_features(self) -> list[str]:
        if self.reference is None:
            return []
        return [n for n, d in zip(self.names, self.gate.drifting, strict=True) if d]

    def data_drift_score(self) -> float:
        """Share of input features (score/prediction excluded) currently drifting."""
        if self.reference is None or not self._is_input.any():
            return 0.0
        return float(self.gate.drifting[self._is_input].mean())

    def _data_event(self, state: DriftState, at: datetime) -> DriftEvent:
        inputs = [n for n in self.drifting_features() if n not in (SCORE, PREDICTION)]
        return DriftEvent(
            **self._base(at),
            kind="data",
            state=state,
            detector="share",
            score=self.data_drift_score(),
            threshold=self.config.data_drift_max,
            details={"drifting_features": inputs, "reference_version": self.reference_version},
        )

    def _data_transition(self, at: datetime) -> list[DriftEvent]:
        above = self.data_drift_score() > self.config.data_drift_max
        if above == self.data_drifting:
            return []
        self.data_drifting = above
        return [self._data_event("started" if above else "ended", at)]

    def snapshot(self, now: datetime | None = None) -> list[DriftEvent]:
        """Current scores (periodic ``snapshot`` events): one per model, plus concept if tracked."""
        at = now or self.last_at
        if at is None or self.reference is None:
            return []
        event = self._data_event("snapshot", at)
        p_values = {n: float(p) for n, p in zip(self.names, self.last_p, strict=True)}
        event = event.model_copy(update={"details": {**event.details, "p_values": p_values}})
        return [event, *self.concept.snapshot(self.model_id, at)]

    # -- reset and checkpoint -------------------------------------------------------------------
    def reset_reference(self, reference: ReferenceProfile | None, at: datetime) -> list[DriftEvent]:
        """Planned retraining: end drifts in progress, then use ``reference`` (or rebuild one)."""
        out: list[DriftEvent] = []
        if self.reference is not None:
            out = [self._feature_event(i, "ended", at, False) for i in np.flatnonzero(self.gate.drifting).tolist()]
            if self.data_drifting:
                self.gate.drifting[:] = False
                out.append(self._data_event("ended", at))
            self.data_drifting = False
        version = (self.reference_version or 0) + 1
        self.concept = ConceptTracker(self.config)
        if reference is None:
            self.reference = None
            self.builder = ReferenceBuilder(
                self.model_id, self.config.reference_size, version, self.config.max_categories
            )
        else:
            self._start(reference)
        return out

    def to_state(self, include_reference: bool = True) -> dict[str, Any]:
        """JSON-safe checkpoint: reference, buffers, gate, detectors (see ``mlmon_drift.checkpoint``)."""
        return monitor_state(self, include_reference)

    @classmethod
    def from_state(cls, state: Mapping[str, Any], reference: ReferenceProfile | None = None) -> ModelMonitor:
        """Restore a checkpoint: drifts in progress stay in progress (no second ``started``).

        Pass ``reference`` when the checkpoint was saved with ``include_reference=False``.
        """
        monitor = cls(str(state["model_id"]), DriftConfig.model_validate(state["config"]))
        restore_monitor(monitor, state, reference)
        return monitor
