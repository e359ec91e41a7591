"""The dashboard page (``/`` and ``/static/...``) and the Grafana dashboard export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from mlmon_reporting.grafana import grafana_dashboard

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["dashboard"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/app.js", include_in_schema=False)
def app_js() -> FileResponse:
    return FileResponse(STATIC / "app.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/style.css", include_in_schema=False)
def style_css() -> FileResponse:
    return FileResponse(STATIC / "style.css", media_type="text/css", headers={"Cache-Control": "no-cache"})


@router.get("/v1/grafana/dashboard.json", tags=["grafana"])
def grafana() -> dict[str, Any]:
    return grafana_dashboard()


def mount_static(app: FastAPI) -> None:
    """``/static/*`` (every asset) and ``/vendor/*`` (what index.html loads relative to ``/``)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/vendor", StaticFiles(directory=STATIC / "vendor"), name="vendor")
