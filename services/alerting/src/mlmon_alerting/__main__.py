"""``python -m mlmon_alerting`` / ``mlmon-alerting``: run the alerting service."""

from __future__ import annotations

from mlmon_alerting.app import build
from mlmon_common.http import serve


def main() -> None:
    runtime, app = build()
    serve(app, runtime.settings.http)


if __name__ == "__main__":
    main()
