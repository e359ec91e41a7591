"""``GET /v1/alerts``: latest state per alert fingerprint, from the alerts topic (kept in Redis)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mlmon_common.events import AlertStatus
from mlmon_reporting.api.deps import Rep
from mlmon_reporting.api_shapes import AlertsResponse

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.get("/alerts")
def list_alerts(
    rep: Rep,
    model_id: Annotated[str | None, Query(max_length=200)] = None,
    status: AlertStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> AlertsResponse:
    return AlertsResponse(alerts=rep.store.log.alerts(model_id, status, limit))
