"""``python -m mlmon_reporting`` / ``mlmon-reporting``: run the reporting service."""

from __future__ import annotations

from mlmon_common.http import serve
from mlmon_reporting.app import build


def main() -> None:
    runtime, app = build()
    serve(app, runtime.settings.http)


if __name__ == "__main__":
    main()
