"""The service's parts as FastAPI dependencies (set on ``app.state.reporting`` by ``app.build``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, NoReturn

from fastapi import Depends, HTTPException, Request

from mlmon_reporting.broadcast import Broadcaster
from mlmon_reporting.config import ReportingConfig
from mlmon_reporting.monitor import PerformanceMonitor
from mlmon_reporting.redis_store import RedisSeriesStore
from mlmon_reporting.report_jobs import ReportScheduler
from mlmon_reporting.settings import ReportingOptions


@dataclass
class Parts:
    config: ReportingConfig
    options: ReportingOptions
    store: RedisSeriesStore
    monitor: PerformanceMonitor
    broadcaster: Broadcaster
    scheduler: ReportScheduler


def _parts(request: Request) -> Parts:
    parts: Parts = request.app.state.reporting
    return parts


Rep = Annotated[Parts, Depends(_parts)]


def invalid(field: str, exc: Exception, where: str = "query") -> NoReturn:
    """422 in FastAPI's validation shape, naming the field; the message already starts with its name."""
    raise HTTPException(422, detail=[{"loc": [where, field], "msg": str(exc), "type": "value_error"}]) from exc


def require_model(rep: Parts, model_id: str) -> None:
    """404 for a model the store has never seen."""
    if model_id not in rep.store.models():
        raise HTTPException(404, detail=f"model_id: no data for model {model_id!r}")
