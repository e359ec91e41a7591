"""``python -m mlmon_maintenance`` / ``mlmon-maintenance``: run the maintenance service.

``python -m mlmon_maintenance backup --dir D`` and ``restore --from FILE`` run the backup commands instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlmon_common.http import serve
from mlmon_maintenance.app import build


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv:
        from mlmon_common import logging as mlmon_logging
        from mlmon_maintenance.cli import add_commands

        mlmon_logging.configure("mlmon-maintenance-cli", "WARNING")
        parser = argparse.ArgumentParser(prog="python -m mlmon_maintenance")
        add_commands(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        code: int = args.func(args)
        return code
    runtime, app = build()
    serve(app, runtime.settings.http)
    return 0


if __name__ == "__main__":
    sys.exit(main())
