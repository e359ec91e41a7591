"""``python -m mlmon_collector`` / ``mlmon-collector``: run the collector service."""

from __future__ import annotations

from mlmon_collector.app import build
from mlmon_common.http import serve


def main() -> None:
    runtime, app = build()
    serve(app, runtime.settings.http)


if __name__ == "__main__":
    main()
