"""Cleanup: delete what is past its age — and nothing else.

* **Pending predictions** (``<prefix>join:*``), older than ``pending_predictions_ttl``. A key that carries a
  Redis TTL is left to Redis (it expires by itself). Otherwise the record's time is read from it: a
  string or hash with ``expires_at`` (deadline) or ``occurred_at``/``predicted_at``/``at`` (ISO 8601 or
  epoch seconds); a hash whose values are such JSON records (field-wise); a sorted set scored by epoch
  seconds (member-wise). A key with no readable time is kept and counted as ``undated``.
* **Time series** (``<prefix>ts:*``) older than ``timeseries_retention``: hash fields named by an epoch
  (bucket start), sorted-set members scored by epoch, keys ending in ``:<epoch>`` with no newer field.
* **Finished jobs**: job directories (``state_dir/<plan>/``) whose ``result.json`` finished before the
  ``finished_jobs`` cutoff. Running or unfinished jobs are never touched.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from mlmon_maintenance.backup import glob_escape
from mlmon_maintenance.config import CleanupConfig

logger = logging.getLogger(__name__)

_TIME_FIELDS = ("occurred_at", "predicted_at", "at", "created_at")


def _epoch(value: Any) -> float | None:
    """Epoch seconds from a number, a numeric string or an ISO 8601 time; ``None`` otherwise."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment.timestamp() if moment.tzinfo else None
    return None


def record_expired(doc: dict[str, Any], cutoff: float, now: float) -> bool | None:
    """True/False if ``doc`` names a time (deadline or event time), ``None`` when it names none.

    >>> record_expired({"expires_at": 10}, cutoff=0, now=20), record_expired({"occurred_at": 5}, 8, 20)
    (True, True)
    >>> record_expired({"x": 1}, 0, 0) is None
    True
    """
    if (deadline := _epoch(doc.get("expires_at"))) is not None:
        return deadline <= now
    for name in _TIME_FIELDS:
        if (moment := _epoch(doc.get(name))) is not None:
            return moment < cutoff
    return None


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _scan(r: Any, pattern: str) -> list[bytes]:
    return list(r.scan_iter(match=pattern, count=1000))


def clean_pending(r: Any, prefix: str, cutoff: float, now: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    for key in _scan(r, glob_escape(prefix) + "join:*"):
        if r.pttl(key) > 0:
            counts["ttl_managed"] += 1
            continue
        kind = r.type(key).decode()
        if kind == "zset":
            counts["pending_predictions"] += int(r.zremrangebyscore(key, "-inf", f"({cutoff}"))
            continue
        if kind == "string":
            doc = _json(r.get(key) or b"")
            verdict = None if doc is None else record_expired(doc, cutoff, now)
        elif kind == "hash":
            fields = r.hgetall(key)
            verdict = record_expired({k.decode(): v for k, v in fields.items()}, cutoff, now)
            if verdict is None:
                counts.update(_clean_hash_records(r, key, fields, cutoff, now))
                continue
        else:
            verdict = None
        if verdict is None:
            counts["undated"] += 1
        elif verdict:
            counts["pending_predictions"] += int(r.delete(key))
    return counts


def _clean_hash_records(r: Any, key: bytes, fields: dict[bytes, bytes], cutoff: float, now: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    expired = []
    for name, raw in fields.items():
        doc = _json(raw)
        verdict = None if doc is None else record_expired(doc, cutoff, now)
        if verdict is None:
            counts["undated"] += 1
        elif verdict:
            expired.append(name)
    if expired:
        counts["pending_predictions"] += int(r.hdel(key, *expired))
    return counts


def clean_timeseries(r: Any, prefix: str, cutoff: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    for key in _scan(r, glob_escape(prefix) + "ts:*"):
        kind = r.type(key).decode()
        if kind == "hash":
            names = r.hkeys(key)
            old = [n for n in names if (t := _epoch(n)) is not None and t < cutoff]
            if old:
                counts["timeseries_points"] += int(r.hdel(key, *old))
                if not r.exists(key):
                    counts["timeseries_keys"] += 1
        elif kind == "zset":
            counts["timeseries_points"] += int(r.zremrangebyscore(key, "-inf", f"({cutoff}"))
        else:
            suffix = _epoch(key.rsplit(b":", 1)[-1])
            if suffix is not None and suffix < cutoff:
                counts["timeseries_keys"] += int(r.delete(key))
    return counts


def clean_jobs(state_dir: Path, cutoff: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    if not state_dir.is_dir():
        return counts
    for job in sorted(p for p in state_dir.iterdir() if p.is_dir()):
        result = job / "result.json"
        if not result.exists():
            continue
        finished = _epoch((_json(result.read_bytes()) or {}).get("finished_at"))
        if finished is not None and finished < cutoff:
            shutil.rmtree(job)
            counts["finished_jobs"] += 1
    return counts


def cleanup(r: Any, prefix: str, cfg: CleanupConfig, state_dir: Path, now: datetime) -> dict[str, int]:
    """Run the three cleanups; returns what was removed (and what was kept as undated)."""
    t = now.timestamp()
    counts = clean_pending(r, prefix, t - cfg.pending_predictions_ttl.total_seconds(), t)
    counts += clean_timeseries(r, prefix, t - cfg.timeseries_retention.total_seconds())
    counts += clean_jobs(state_dir, t - cfg.finished_jobs.total_seconds())
    result = {k: counts.get(k, 0) for k in ("pending_predictions", "timeseries_points", "timeseries_keys")}
    result |= {"finished_jobs": counts.get("finished_jobs", 0), "undated": counts.get("undated", 0)}
    logger.info("cleanup done", extra=result)
    return result
