"""``python -m mlmon_reporting`` / ``mlmon-reporting``: run the reporting service."""

from __future__ import annotations

from mlmon_common.http import serve
from mlmon_reporting.app import build

#: Open SSE streams never end by themselves: give them this long after SIGTERM, then cancel them.
GRACEFUL_SHUTDOWN_S = 5


def main() -> None:
    runtime, app = build()
    serve(app, runtime.settings.http, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)


if __name__ == "__main__":
    main()
