"""``/v1/reports``: daily/weekly reports on demand (JSON, Markdown, HTML) and the stored scheduled ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import AwareDatetime

from mlmon_reporting.api.deps import Rep
from mlmon_reporting.report_jobs import UnknownModelError, on_demand, render

router = APIRouter(prefix="/v1", tags=["reports"])
ReportType = Literal["daily", "weekly"]
Format = Literal["json", "md", "html"]
MEDIA = {"json": "application/json", "md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8"}


@router.get("/reports")
def stored_reports(rep: Rep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return {"reports": rep.scheduler.stored(limit)}


@router.get("/reports/stored/{report_type}/{period_start}")
def stored_report(rep: Rep, report_type: ReportType, period_start: int, format: Format = "html") -> Response:
    body = rep.scheduler.load(report_type, period_start, format)
    if body is None:
        raise HTTPException(404, detail=f"period_start: no stored {report_type} report starting at {period_start}")
    return Response(body, media_type=MEDIA[format])


@router.get("/reports/{report_type}")
def report(
    rep: Rep,
    report_type: ReportType,
    model: Annotated[list[str] | None, Query(max_length=100, description="repeat for several models")] = None,
    format: Format = "json",
    end: Annotated[AwareDatetime | None, Query(description="period end (default now), RFC 3339 with offset")] = None,
) -> Response:
    try:
        made = on_demand(rep.store, report_type, models=model, end=end, now=_now(rep))
    except UnknownModelError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    body, media = render(made, format)
    return Response(body, media_type=media)


def _now(rep: Rep) -> datetime:
    return rep.monitor.clock()
