"""``python -m mlmon_drift`` / ``mlmon-drift``: run the drift service."""

from __future__ import annotations

from mlmon_common.http import serve
from mlmon_drift.app import build


def main() -> None:
    runtime, app = build()
    serve(app, runtime.settings.http)


if __name__ == "__main__":
    main()
