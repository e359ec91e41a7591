"""``backup`` / ``restore`` commands: ``python -m mlmon_maintenance backup --dir D`` and ``mlmon backup``.

Registered in the ``mlmon`` CLI through the ``mlmon.commands`` entry point (:func:`register`). Redis and
the prefix come from ``MLMON_REDIS_URL`` / ``MLMON_REDIS_KEY_PREFIX``; the default backup directory from
the ``maintenance.backup.dir`` of the YAML config (``MLMON_CONFIG``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlmon_common.config import load_section
from mlmon_common.errors import ConfigError
from mlmon_common.events import utcnow
from mlmon_common.store import connect
from mlmon_maintenance.backup import BackupError, backup, latest, restore
from mlmon_maintenance.config import MaintenanceConfig
from mlmon_maintenance.settings import MaintenanceSettings


def _out(doc: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")


def _err(text: str) -> int:
    sys.stderr.write(text + "\n")
    return 2


def cmd_backup(args: argparse.Namespace) -> int:
    settings = MaintenanceSettings()
    try:
        cfg = load_section(settings.config, "maintenance", MaintenanceConfig).backup
    except ConfigError as exc:
        return _err(str(exc))
    directory = Path(args.dir) if args.dir else cfg.dir
    info = backup(connect(settings.redis), settings.redis.key_prefix, directory, utcnow(), keep=args.keep or cfg.keep)
    _out({"path": str(info.path), "keys": info.keys, "sha256": info.sha256, "bytes": info.bytes})
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = MaintenanceSettings()
    path = Path(args.source)
    if path.is_dir():
        found = latest(path)
        if found is None:
            return _err(f"{path}: no mlmon-backup-*.jsonl file in this directory")
        path = found
    try:
        keys = restore(connect(settings.redis), settings.redis.key_prefix, path)
    except BackupError as exc:
        return _err(str(exc))
    _out({"path": str(path), "keys": keys, "prefix": settings.redis.key_prefix})
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("backup", help="dump every Redis key under the mlmon prefix (with TTLs) to a file")
    b.add_argument("--dir", help="directory of backups (default: maintenance.backup.dir)")
    b.add_argument("--keep", type=int, help="keep only the newest N backups there")
    b.set_defaults(func=cmd_backup)
    r = sub.add_parser("restore", help="restore the keys of a backup file (or the newest in a directory)")
    r.add_argument("--from", dest="source", required=True, help="backup file, or a directory of backups")
    r.set_defaults(func=cmd_restore)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``mlmon.commands`` entry point: adds ``mlmon backup`` and ``mlmon restore``."""
    add_commands(subparsers)
