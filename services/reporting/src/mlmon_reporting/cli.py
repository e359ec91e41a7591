"""``mlmon report daily|weekly [--model X] [--format json|md|html] [--out F] [--end ISO]``.

Registered in the ``mlmon`` CLI through the ``mlmon.commands`` entry point (:func:`register`). Reads the
Redis store of the reporting service (``MLMON_REDIS_URL``, ``MLMON_REDIS_KEY_PREFIX``) and the
``reporting`` section of the YAML config (``MLMON_CONFIG``). Exit codes: 0 written, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from mlmon_common.config import load_section
from mlmon_common.errors import ConfigError
from mlmon_common.store import connect
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.redis_store import RedisSeriesStore
from mlmon_reporting.report_jobs import FORMATS, UnknownModelError, on_demand, render
from mlmon_reporting.reports import REPORT_TYPES
from mlmon_reporting.settings import ReportingSettings


def _err(text: str) -> int:
    sys.stderr.write(f"mlmon report: {text}\n")
    return 2


def _end(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--end: expected an ISO 8601 time, got {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--end: needs a UTC offset (e.g. {text}+00:00)")
    return value


def cmd_report(args: argparse.Namespace) -> int:
    settings = ReportingSettings()
    try:
        config = load_section(settings.config, "reporting", ReportingConfig)
    except ConfigError as exc:
        return _err(str(exc))
    store = RedisSeriesStore(connect(settings.redis), settings.redis.key_prefix, config)
    try:
        report = on_demand(store, args.report_type, models=args.model or None, end=args.end)
    except UnknownModelError as exc:
        return _err(str(exc))
    body, _ = render(report, args.format)
    if args.out:
        Path(args.out).write_text(body)
        sys.stdout.write(f"wrote {args.out}\n")
    else:
        sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("report", help="daily/weekly monitoring report from the reporting store")
    p.add_argument("report_type", choices=REPORT_TYPES)
    p.add_argument("--model", action="append", help="model id (repeat for several; default every model)")
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.add_argument("--end", type=_end, default=None, help="period end, ISO 8601 with offset (default now)")
    p.set_defaults(func=cmd_report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlmon-report")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))
