"""The model catalog: models from the ``collector`` config section plus models registered over HTTP.

HTTP-registered entries live in one Redis hash (``<prefix>collector:models``, field = model id, value =
the entry's JSON), so every collector process sees them; each process re-reads the hash at most every
``refresh_s`` seconds. Config entries are authoritative: the API cannot replace or delete them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Literal

import redis
from pydantic import ValidationError

from mlmon_collector.registry import ModelEntry, ModelRegistry
from mlmon_common.store import TRANSIENT, retryable

logger = logging.getLogger(__name__)
Source = Literal["config", "api"]


class ConfigDefinedError(Exception):
    """The model is defined in the config file; the API may not change it."""


class ModelCatalog:
    def __init__(
        self,
        client: redis.Redis,
        key_prefix: str,
        config_entries: Iterable[ModelEntry] = (),
        *,
        refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._r = client
        self.key = f"{key_prefix}collector:models"
        self._config = {e.model_id: e for e in config_entries}
        self._refresh_s = refresh_s
        self._clock = clock
        self._api: dict[str, ModelEntry] = {}
        self._registry = ModelRegistry(self._config.values())
        self._loaded_at: float | None = None

    # -- reading ---------------------------------------------------------------------------------
    def registry(self) -> ModelRegistry:
        """The current registry; re-read from Redis when older than ``refresh_s`` (kept on Redis errors)."""
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._refresh_s:
            try:
                self.reload()
            except TRANSIENT as exc:
                logger.warning("cannot refresh registered models; keeping the last ones", extra={"error": str(exc)})
            self._loaded_at = now
        return self._registry

    def reload(self) -> None:
        api: dict[str, ModelEntry] = {}
        for field, raw in self._r.hgetall(self.key).items():
            model_id = field.decode() if isinstance(field, bytes) else str(field)
            try:
                entry = ModelEntry.model_validate_json(raw)
            except ValidationError as exc:  # written by an older/newer collector: skip it, loudly
                logger.error("ignoring an invalid registered model", extra={"model_id": model_id, "error": str(exc)})
                continue
            if model_id not in self._config:
                api[model_id] = entry
        self._api = api
        self._registry = ModelRegistry([*self._config.values(), *api.values()])

    def listing(self) -> list[tuple[ModelEntry, Source]]:
        """Every model with where it comes from, sorted by id (read fresh)."""
        self._loaded_at = None
        self.registry()
        rows: list[tuple[ModelEntry, Source]] = [(e, "config") for e in self._config.values()]
        rows += [(e, "api") for e in self._api.values()]
        return sorted(rows, key=lambda row: row[0].model_id)

    def source(self, model_id: str) -> Source | None:
        if model_id in self._config:
            return "config"
        return "api" if self._r.hexists(self.key, model_id) else None

    # -- writing ---------------------------------------------------------------------------------
    @retryable
    def put(self, entry: ModelEntry) -> bool:
        """Register or replace an API model; True when it is new. Refuses config-defined models."""
        if entry.model_id in self._config:
            raise ConfigDefinedError(entry.model_id)
        created = bool(self._r.hset(self.key, entry.model_id, entry.model_dump_json()))
        self._loaded_at = None
        return created

    @retryable
    def delete(self, model_id: str) -> bool:
        if model_id in self._config:
            raise ConfigDefinedError(model_id)
        self._loaded_at = None
        return bool(self._r.hdel(self.key, model_id))
