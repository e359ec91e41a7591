"""``POST /v1/autoscale/{service}``: desired replicas from CPU and lag; applied only with a cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from mlmon_common.events import Identifier, MaintenanceEvent
from mlmon_maintenance.api.errors import http_errors
from mlmon_maintenance.plans import make_plan_id
from mlmon_maintenance.scaling import Scaler


class ScaleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replicas: int = Field(ge=0, le=10_000, description="current replica count")
    cpu: Annotated[float, Field(ge=0, le=100)] | None = Field(None, description="average CPU per replica, fraction")
    lag: Annotated[float, Field(ge=0)] | None = Field(None, description="total consumer lag, messages")


def router(
    scaler: Scaler, publish: Callable[[MaintenanceEvent], None], require_key: Callable[[Request], None]
) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["autoscale"])

    @r.post("/autoscale/{service}", dependencies=[Depends(require_key)])
    def autoscale(service: Identifier, body: ScaleRequest) -> dict[str, Any]:
        with http_errors():
            decision = scaler.decide(service, body.replicas, body.cpu, body.lag)
        at = scaler.clock()
        publish(
            MaintenanceEvent(
                event_id=make_plan_id(service, ["scaling"], f"autoscale@{at.isoformat()}"),
                occurred_at=at,
                model_id=service,
                plan_id=make_plan_id(service, ["scaling"], f"autoscale@{at.isoformat()}"),
                state="succeeded",
                actions=["scaling"],
                reason=decision["reason"],
                actor="autoscale",
                result={"kind": "applied" if decision["applied"] else "recommendation", **decision},
            )
        )
        return decision

    return r
