"""``python -m mlmon_drift`` / ``mlmon-drift``: run the drift service (faust worker + HTTP API)."""

from __future__ import annotations

from mlmon_drift.app import run


def main() -> None:
    run()


if __name__ == "__main__":
    main()
