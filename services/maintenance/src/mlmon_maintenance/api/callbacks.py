"""``POST /v1/callbacks/webhook``: signed status reports from the webhook executor's external system."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from mlmon_maintenance.api.errors import http_errors
from mlmon_maintenance.executors.webhook import SIGNATURE_HEADER, SignatureError, StatusCallback, parse_callback
from mlmon_maintenance.plans import MaintenancePlan
from mlmon_maintenance.worker import PlanWorker


def router(worker: PlanWorker, secret: str | None) -> APIRouter:
    r = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])

    @r.post("/webhook", response_model=MaintenancePlan | None)
    async def webhook(
        request: Request, signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None
    ) -> MaintenancePlan | None:
        if secret is None:
            raise HTTPException(404, "no webhook executor configured")
        body = await request.body()
        try:
            cb = parse_callback(body, signature, secret, worker.clock())
        except SignatureError as exc:
            raise HTTPException(401, str(exc)) from None
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
        return await run_in_threadpool(_apply, worker, cb)

    return r


def _apply(worker: PlanWorker, cb: StatusCallback) -> MaintenancePlan | None:
    with http_errors():
        worker.store.get(cb.plan_id)  # 404 for an unknown plan
        return worker.on_callback(cb)
