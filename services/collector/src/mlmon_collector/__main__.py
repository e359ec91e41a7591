"""``python -m mlmon_collector`` / ``mlmon-collector``: run the collector service.

``... agent --service NAME [--interval S]`` runs the resource agent and ``... simulate [...]`` the simulated
fleet instead; ``... serve`` (or no argument) runs the service.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlmon_common import logging as mlmon_logging
from mlmon_common.http import serve


def _serve(_args: argparse.Namespace | None = None) -> int:
    from mlmon_collector.app import build, tune_gc

    runtime, app = build()
    tune_gc()
    serve(app, runtime.settings.http)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from mlmon_collector.cli import add_agent, add_simulate
    from mlmon_collector.settings import CollectorSettings

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return _serve()
    parser = argparse.ArgumentParser(prog="mlmon-collector", description="the mlmon collector")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the collector service (the default)").set_defaults(func=_serve)
    add_agent(sub)
    add_simulate(sub)
    args = parser.parse_args(argv)
    mlmon_logging.configure(f"mlmon-{args.command}", CollectorSettings().log_level)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
