"""HTTP of the reporting service: query API, SSE stream, reports, dashboard page (aggregated here)."""

from __future__ import annotations

from fastapi import APIRouter

from mlmon_reporting.api import alerts, models, pages, reports, stream


def routers() -> list[APIRouter]:
    return [models.router, alerts.router, stream.router, reports.router, pages.router]
