"""JSON-safe checkpoints of a ``ModelMonitor`` (stored in Redis or a faust table by the service).

A checkpoint holds the config, the reference (or the rows collected so far), the window buffers,
the persistence gate, the CUSUM sums, the data-drift flag and the concept tracker. Restoring it gives a
monitor that continues where the old one stopped: drifts in progress stay in progress, so a restarted
worker neither repeats ``started`` events nor loses a drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from mlmon_drift.reference import ReferenceProfile

if TYPE_CHECKING:
    from mlmon_drift.monitor import ModelMonitor

STATE_VERSION = 1


def _floats_or_none(buf: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in buf]


def monitor_state(mon: ModelMonitor, include_reference: bool = True) -> dict[str, Any]:
    """The checkpoint; without the reference (~70 % of it) when that is stored once per version."""
    state: dict[str, Any] = {
        "state_version": STATE_VERSION,
        "model_id": mon.model_id,
        "config": mon.config.model_dump(),
        "events_seen": mon.events_seen,
        "last_at": mon.last_at.isoformat() if mon.last_at else None,
        "concept": mon.concept.to_state(),
        "reference": mon.reference.to_dict() if mon.reference and include_reference else None,
        "reference_version": mon.reference_version,
    }
    if mon.builder is not None:
        b = mon.builder
        state["builder"] = {
            "version": b.version,
            "rows": b.rows,
            "first_at": b.first_at.isoformat() if b.first_at else None,
            "last_at": b.last_at.isoformat() if b.last_at else None,
        }
        return state
    state["window"] = {
        "pending": [[None if math.isnan(v) else v for v in row] for row in mon.pending],
        "slot": mon.slot,
        "filled": mon.filled,
        "buf": _floats_or_none(mon.buf),
        "counts": mon.counts,
        "gate": mon.gate.to_state(),
        "cusum": mon.cusum.to_state(),
        "data_drifting": mon.data_drifting,
        "last_p": mon.last_p.tolist(),
        "last_stat": mon.last_stat.tolist(),
    }
    return state


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _restore_builder(mon: ModelMonitor, data: Mapping[str, Any]) -> None:
    assert mon.builder is not None
    mon.builder.version = int(data["version"])
    mon.builder.rows = list(data["rows"])
    mon.builder.first_at = _when(data["first_at"])
    mon.builder.last_at = _when(data["last_at"])


def _restore_window(mon: ModelMonitor, data: Mapping[str, Any]) -> None:
    buf = np.array(data["buf"], dtype=np.float64).reshape(mon.buf.shape)
    mon.buf = buf
    if len(data["counts"]) != len(mon.counts):
        raise ValueError("checkpoint: categorical feature count does not match the reference")
    mon.counts = [[list(map(int, slot)) for slot in feature] for feature in data["counts"]]
    mon.pending = [[math.nan if v is None else float(v) for v in row] for row in data["pending"]]
    mon.slot, mon.filled = int(data["slot"]), int(data["filled"])
    mon.gate.load_state(data["gate"])
    mon.cusum.load_state(data["cusum"])
    mon.data_drifting = bool(data["data_drifting"])
    mon.last_p = np.asarray(data["last_p"], dtype=np.float64)
    mon.last_stat = np.asarray(data["last_stat"], dtype=np.float64)


def restore_monitor(mon: ModelMonitor, state: Mapping[str, Any], reference: ReferenceProfile | None = None) -> None:
    """Load ``state`` (from ``monitor_state``) into a fresh monitor built with the same config.

    ``reference`` is required when the state was saved without it, and must have its version.
    """
    if state.get("state_version") != STATE_VERSION:
        raise ValueError(f"checkpoint: state_version must be {STATE_VERSION}, got {state.get('state_version')!r}")
    try:
        mon.events_seen = int(state["events_seen"])
        mon.last_at = _when(state["last_at"])
        mon.concept.load_state(state["concept"])
        if "builder" in state:
            _restore_builder(mon, state["builder"])
            return
        profile = ReferenceProfile.from_dict(state["reference"]) if state["reference"] else reference
        version = state.get("reference_version")
        if profile is None or profile.version != version:
            got = profile.version if profile else None
            raise ValueError(f"checkpoint: needs reference version {version}, got {got}")
        mon._start(profile)
        _restore_window(mon, state["window"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"checkpoint: missing or malformed field {exc}") from exc
