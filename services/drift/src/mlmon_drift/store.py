"""The drift service's state in Redis: references (versioned), checkpoints, status, published transitions.

Every key starts with the configured prefix (``settings.redis.key_prefix``, ``mlmon:`` by default)::

    <p>drift:refs:<model>                 HASH    version -> reference profile (JSON, with its source)
    <p>drift:ref:<model>                  STRING  current reference version (uploads and built references)
    <p>drift:ckpt:<model>                 STRING  ModelMonitor checkpoint (without the reference) + source offsets
    <p>drift:status:<model>               STRING  current drift state (JSON; what GET /v1/models/{id}/drift returns)
    <p>drift:published:<model>            HASH    "<kind>:<feature>" -> last published transition (started/ended)
    <p>drift:models                       SET     model ids the service has seen
    <p>drift:reference_reset:<model>      STRING  reset request (ISO 8601; written by maintenance after a promotion,
                                                  or by POST /v1/models/{id}/reference/reset)
    <p>drift:reference_reset_done:<model> STRING  the last reset request the worker applied
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from mlmon_common.store import retryable
from mlmon_drift.reference import ReferenceProfile

# Sets the current version only if it is higher than the stored one; returns the current version.
_RAISE_CURRENT = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local new = tonumber(ARGV[1])
if new > cur then redis.call('SET', KEYS[1], ARGV[1]); return new end
return cur
"""


@dataclass(frozen=True)
class StoredReference:
    profile: ReferenceProfile
    source: str
    stored_at: str

    def summary(self) -> dict[str, Any]:
        p = self.profile
        return {
            "model_id": p.model_id,
            "version": p.version,
            "source": self.source,
            "stored_at": self.stored_at,
            "n_events": p.n_events,
            "created_at": p.created_at,
            "events_per_second": p.events_per_second,
            "numeric": {
                name: {"mean": f.mean, "std": f.std, "null_rate": f.null_rate, "quantiles": list(f.quantiles)}
                for name, f in p.numeric.items()
            },
            "categorical": {name: {"levels": f.levels, "null_rate": f.null_rate} for name, f in p.categorical.items()},
        }


class DriftStore:
    """Typed access to the drift keys; transient Redis errors raise ``RetryableError``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.p = f"{prefix}drift:"
        self._raise_current = client.register_script(_RAISE_CURRENT)

    # -- keys --------------------------------------------------------------------------------------------
    def key(self, kind: str, model_id: str) -> str:
        return f"{self.p}{kind}:{model_id}"

    def reset_key(self, model_id: str) -> str:
        return self.key("reference_reset", model_id)

    # -- references ----------------------------------------------------------------------------------------
    @retryable
    def current_version(self, model_id: str) -> int | None:
        raw = self.r.get(self.key("ref", model_id))
        return int(raw) if raw else None

    @retryable
    def current_versions(self, model_ids: Iterable[str]) -> dict[str, int | None]:
        ids = list(model_ids)
        pipe = self.r.pipeline(transaction=False)
        for m in ids:
            pipe.get(self.key("ref", m))
        return {m: int(v) if v else None for m, v in zip(ids, pipe.execute(), strict=True)}

    @retryable
    def reference(self, model_id: str, version: int | None = None) -> StoredReference | None:
        """A stored version (default: the current one), or None."""
        if version is None:
            version = self.current_version(model_id)
            if version is None:
                return None
        raw = self.r.hget(self.key("refs", model_id), str(version))
        if raw is None:
            return None
        doc = json.loads(raw)
        return StoredReference(ReferenceProfile.from_dict(doc["profile"]), doc["source"], doc["stored_at"])

    @retryable
    def versions(self, model_id: str) -> list[int]:
        return sorted(int(v) for v in self.r.hkeys(self.key("refs", model_id)))

    def _doc(self, profile: ReferenceProfile, source: str, at: datetime) -> str:
        return json.dumps({"source": source, "stored_at": at.isoformat(), "profile": profile.to_dict()})

    @retryable
    def save_built_reference(self, profile: ReferenceProfile, at: datetime) -> int:
        """Store a reference the worker built from the stream; an upload of the same version wins."""
        self.r.hsetnx(self.key("refs", profile.model_id), str(profile.version), self._doc(profile, "stream", at))
        self.r.sadd(f"{self.p}models", profile.model_id)
        return int(self._raise_current(keys=[self.key("ref", profile.model_id)], args=[profile.version]))

    @retryable
    def next_upload_version(self, model_id: str, known: int | None) -> int:
        """The version an upload gets: above the current one, every stored one and ``known`` (status)."""
        stored = self.versions(model_id)
        return max([self.current_version(model_id) or 0, known or 0, *stored]) + 1

    @retryable
    def save_uploaded_reference(self, profile: ReferenceProfile, at: datetime) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.key("refs", profile.model_id), str(profile.version), self._doc(profile, "upload", at))
        pipe.set(self.key("ref", profile.model_id), str(profile.version))
        pipe.sadd(f"{self.p}models", profile.model_id)
        pipe.execute()

    # -- reset requests ------------------------------------------------------------------------------------
    @retryable
    def request_reset(self, model_id: str, at: datetime) -> None:
        self.r.set(self.reset_key(model_id), at.isoformat())

    @retryable
    def pending_resets(self, model_ids: Iterable[str]) -> dict[str, str]:
        """model -> reset request not applied yet."""
        ids = list(model_ids)
        pipe = self.r.pipeline(transaction=False)
        for m in ids:
            pipe.get(self.reset_key(m))
            pipe.get(self.key("reference_reset_done", m))
        values = pipe.execute()
        out: dict[str, str] = {}
        for i, m in enumerate(ids):
            req, done = values[2 * i], values[2 * i + 1]
            if req is not None and req != done:
                out[m] = req.decode()
        return out

    @retryable
    def reset_done(self, model_id: str, request: str) -> None:
        self.r.set(self.key("reference_reset_done", model_id), request)

    # -- checkpoints and status ----------------------------------------------------------------------------
    @retryable
    def save_checkpoints(self, docs: Mapping[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """model -> (checkpoint, status), written in one round trip."""
        if not docs:
            return
        pipe = self.r.pipeline(transaction=False)
        for model_id, (ckpt, status) in docs.items():
            pipe.set(self.key("ckpt", model_id), json.dumps(ckpt))
            pipe.set(self.key("status", model_id), json.dumps(status, allow_nan=False))
        pipe.sadd(f"{self.p}models", *docs)
        pipe.execute()

    @retryable
    def checkpoint(self, model_id: str) -> dict[str, Any] | None:
        raw = self.r.get(self.key("ckpt", model_id))
        return json.loads(raw) if raw else None

    @retryable
    def status(self, model_id: str) -> dict[str, Any] | None:
        raw = self.r.get(self.key("status", model_id))
        return json.loads(raw) if raw else None

    @retryable
    def known_model(self, model_id: str) -> bool:
        return bool(self.r.sismember(f"{self.p}models", model_id))

    # -- published transitions (dedupe on replay) ----------------------------------------------------------
    @retryable
    def last_published(self, model_id: str, field: str) -> str | None:
        raw = self.r.hget(self.key("published", model_id), field)
        return raw.decode() if isinstance(raw, bytes) else raw

    @retryable
    def mark_published(self, model_id: str, field: str, state: str) -> None:
        self.r.hset(self.key("published", model_id), field, state)
