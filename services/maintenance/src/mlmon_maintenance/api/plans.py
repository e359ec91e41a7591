"""``/v1/plans`` and ``/v1/models/{id}``: list, inspect, approve, cancel and request maintenance plans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mlmon_common.events import Identifier, PlanState
from mlmon_maintenance.api.errors import http_errors
from mlmon_maintenance.config import ActionType
from mlmon_maintenance.coordinator import Coordinator
from mlmon_maintenance.plans import Action, MaintenancePlan
from mlmon_maintenance.state import StateStore

Actor = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class Decision(BaseModel):
    """Body of ``POST /v1/plans/{id}/approve|cancel``: who decides, and why (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor
    reason: str = Field("", max_length=2000)


class RequestedAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActionType
    params: dict[str, Any] = Field(default_factory=dict)


class MaintenanceRequest(BaseModel):
    """Body of ``POST /v1/models/{id}/maintenance``."""

    model_config = ConfigDict(extra="forbid")

    actions: list[ActionType | RequestedAction] = Field(min_length=1, max_length=6)
    actor: Actor
    reason: str = Field("", max_length=2000)
    priority: int = Field(3, ge=1, le=5)
    request_id: str | None = Field(None, min_length=1, max_length=100, description="idempotency key")


class PlanList(BaseModel):
    plans: list[MaintenancePlan]


class History(BaseModel):
    model_id: str
    plans: list[MaintenancePlan]


def router(coordinator: Coordinator, store: StateStore, require_key: Callable[[Request], None]) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["plans"])
    write = [Depends(require_key)]

    @r.get("/plans", response_model=PlanList)
    def list_plans(
        model: Annotated[Identifier | None, Query()] = None,
        state: Annotated[PlanState | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> PlanList:
        with http_errors():
            return PlanList(plans=store.find_plans(model, state, limit))

    @r.get("/plans/{plan_id}", response_model=MaintenancePlan)
    def get_plan(plan_id: Annotated[str, Path(max_length=300)]) -> MaintenancePlan:
        with http_errors():
            return store.get(plan_id)

    @r.post("/plans/{plan_id}/{decision}", response_model=MaintenancePlan, dependencies=write)
    def decide(
        plan_id: Annotated[str, Path(max_length=300)], decision: Literal["approve", "cancel"], body: Decision
    ) -> MaintenancePlan:
        with http_errors():
            return coordinator.decide(plan_id, decision, body.actor, body.reason)

    @r.get("/models/{model_id}/history", response_model=History)
    def history(model_id: Identifier, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> History:
        with http_errors():
            plans = store.find_plans(model_id, limit=limit)
            if not plans and model_id not in store.models():
                raise HTTPException(404, f"no model {model_id!r} known to maintenance")
            return History(model_id=model_id, plans=plans)

    @r.post("/models/{model_id}/maintenance", response_model=MaintenancePlan, dependencies=write, status_code=201)
    def request(model_id: Identifier, body: MaintenanceRequest, response: Response) -> MaintenancePlan:
        actions = [Action(type=a) if isinstance(a, str) else Action(type=a.type, params=a.params) for a in body.actions]
        if len({a.type for a in actions}) != len(actions):
            raise HTTPException(422, "actions: each action type at most once")
        with http_errors():
            plan, created = coordinator.request(
                model_id, actions, body.actor, body.reason, body.priority, body.request_id
            )
        if not created:
            response.status_code = 200
        return plan

    return r
