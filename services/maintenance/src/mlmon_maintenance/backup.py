"""Backup and restore of the monitoring state: every Redis key under the mlmon prefix, with its TTL.

That is drift references, alert rules, silences and alert state, maintenance plans and their history,
time series, pending joins — whatever the services keep under ``settings.redis.key_prefix``.

One backup is one JSON-lines file ``mlmon-backup-<UTC time>.jsonl``:

* line 1, a header: ``{"format": "mlmon-backup", "version": 1, "prefix": ..., "created_at": ..., "keys": N}``;
* one line per key: ``{"key": <key without the prefix>, "type": "hash", "ttl_ms": 5000 | null, "value": ...}``
  (string: text; hash: object; list: array; set: sorted array; zset: array of [member, score]);
* last line: ``{"sha256": <hex digest of every byte before this line>}``.

Bytes that are not UTF-8 survive the round trip (``surrogateescape``). Keys are stored relative to the
prefix, so a backup restores under another prefix too. The file is written to a temporary name and
renamed, so a crash never leaves a half backup with a valid name; restore refuses a file whose checksum
does not match. The dump is taken with ``SCAN`` while the services keep running: each key is consistent,
the set of keys is not a point-in-time snapshot.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

logger = logging.getLogger(__name__)

FORMAT = "mlmon-backup"
VERSION = 1
_SCAN_COUNT = 1000


class BackupError(ValueError):
    """A backup file that cannot be restored (bad checksum, wrong format); the message names the file."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    keys: int
    sha256: str
    bytes: int


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _dump_value(r: Any, key: bytes, kind: str) -> Any:
    if kind == "string":
        value = r.get(key)
        return None if value is None else _text(value)
    if kind == "hash":
        return {_text(k): _text(v) for k, v in r.hgetall(key).items()}
    if kind == "list":
        return [_text(v) for v in r.lrange(key, 0, -1)]
    if kind == "set":
        return sorted(_text(v) for v in r.smembers(key))
    if kind == "zset":
        return [[_text(m), s] for m, s in r.zrange(key, 0, -1, withscores=True)]
    return None


def glob_escape(prefix: str) -> str:
    """``prefix`` as a literal in a Redis ``MATCH`` pattern.

    >>> glob_escape("mlmon[1]:")
    'mlmon\\\\[1\\\\]:'
    """
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix)


def _records(r: Any, prefix: str) -> Iterator[dict[str, Any]]:
    for key in sorted(r.scan_iter(match=glob_escape(prefix) + "*", count=_SCAN_COUNT)):
        kind = r.type(key).decode()
        value = _dump_value(r, key, kind)
        if value is None:
            if kind not in ("none", "string"):
                logger.warning("backup skips key of unsupported type", extra={"key": _text(key), "type": kind})
            continue
        ttl = r.pttl(key)
        yield {"key": _text(key)[len(prefix) :], "type": kind, "ttl_ms": ttl if ttl > 0 else None, "value": value}


def backup(r: redis.Redis, prefix: str, directory: Path, now: datetime, keep: int | None = None) -> BackupInfo:
    """Write every key under ``prefix`` to a new file in ``directory``; keep the newest ``keep`` backups."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(rec, sort_keys=True) for rec in _records(r, prefix)]
    header = {"format": FORMAT, "version": VERSION, "prefix": prefix, "created_at": now.isoformat(), "keys": len(lines)}
    body = "".join(line + "\n" for line in [json.dumps(header, sort_keys=True), *lines]).encode()
    digest = hashlib.sha256(body).hexdigest()
    path = directory / f"mlmon-backup-{now.strftime('%Y%m%dT%H%M%S%fZ')}.jsonl"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(body)
        fh.write((json.dumps({"sha256": digest}) + "\n").encode())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if keep is not None:
        for old in sorted(directory.glob("mlmon-backup-*.jsonl"))[:-keep]:
            old.unlink()
    logger.info("backup written", extra={"path": str(path), "keys": len(lines)})
    return BackupInfo(path, len(lines), digest, len(body))


def read_backup(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, records) of a backup file, after checking its checksum and format."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BackupError(f"{path}: cannot read: {exc.strerror}") from exc
    body, _, trailer = data.rstrip(b"\n").rpartition(b"\n")
    try:
        expected = json.loads(trailer)["sha256"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{path}: last line is not a checksum trailer (truncated file?)") from None
    if hashlib.sha256(body + b"\n").hexdigest() != expected:
        raise BackupError(f"{path}: checksum mismatch: the file is corrupt or was edited")
    header, *records = (json.loads(line) for line in body.split(b"\n"))
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise BackupError(f"{path}: not an {FORMAT} v{VERSION} file (header {header})")
    if header.get("keys") != len(records):
        raise BackupError(f"{path}: header says {header.get('keys')} keys, file holds {len(records)}")
    return header, records


def _write(pipe: Any, key: bytes, kind: str, value: Any) -> None:
    if kind == "string":
        pipe.set(key, _raw(value))
    elif kind == "hash" and value:
        pipe.hset(key, mapping={_raw(k): _raw(v) for k, v in value.items()})
    elif kind == "list" and value:
        pipe.rpush(key, *[_raw(v) for v in value])
    elif kind == "set" and value:
        pipe.sadd(key, *[_raw(v) for v in value])
    elif kind == "zset" and value:
        pipe.zadd(key, {_raw(m): s for m, s in value})


def restore(r: redis.Redis, prefix: str, path: Path) -> int:
    """Restore every key of the backup under ``prefix`` (replacing what is there); returns the key count.

    TTLs are restored as they were at backup time (the remaining time, not reduced by the time since).
    """
    _header, records = read_backup(path)
    pipe = r.pipeline(transaction=False)
    for rec in records:
        key = _raw(prefix + rec["key"])
        pipe.delete(key)
        _write(pipe, key, rec["type"], rec["value"])
        if rec.get("ttl_ms"):
            pipe.pexpire(key, int(rec["ttl_ms"]))
    pipe.execute()
    logger.info("backup restored", extra={"path": str(path), "keys": len(records)})
    return len(records)


def latest(directory: Path) -> Path | None:
    files = sorted(directory.glob("mlmon-backup-*.jsonl"))
    return files[-1] if files else None
