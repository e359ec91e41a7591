"""``python -m mlmon_alerting`` / ``mlmon-alerting``: run the alerting service.

An invalid config stops the process at start-up with exit status 2 and ``<file>: <path>: <problem>``.
"""

from __future__ import annotations

import sys

from mlmon_alerting.app import build
from mlmon_alerting.config import ConfigError
from mlmon_common.http import serve


def main() -> None:
    try:
        runtime, app = build()
    except ConfigError as exc:
        sys.stderr.write(f"mlmon-alerting: invalid config:\n{exc}\n")
        sys.exit(2)
    serve(app, runtime.settings.http, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
