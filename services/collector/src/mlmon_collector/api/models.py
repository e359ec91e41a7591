"""``/v1/models``: the model registry (config models read-only, API models stored in Redis).

``GET /v1/models``            every model with its ``source`` (``config`` or ``api``)
``GET /v1/models/{id}``       one model, 404 if unknown
``PUT /v1/models/{id}``       register or replace an API model (API key; 201 created, 200 replaced,
                              409 defined in the config file, 422 invalid schema or id mismatch)
``DELETE /v1/models/{id}``    remove an API model (API key; 204, 404, 409)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from mlmon_collector.model_store import ConfigDefinedError, ModelCatalog
from mlmon_collector.registry import ModelEntry
from mlmon_common.errors import RetryableError


def _view(entry: ModelEntry, source: str) -> dict[str, Any]:
    return entry.model_dump(mode="json") | {"source": source}


def router(catalog: ModelCatalog, require_key: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(prefix="/v1/models", tags=["models"])
    write = [Depends(require_key)]

    @api.get("", summary="list registered models")
    def list_models() -> dict[str, Any]:
        return {"models": [_view(e, s) for e, s in catalog.listing()]}

    @api.get("/{model_id}", summary="one registered model")
    def get_model(model_id: str) -> dict[str, Any]:
        for entry, source in catalog.listing():
            if entry.model_id == model_id:
                return _view(entry, source)
        raise HTTPException(404, f"model {model_id!r} is not registered")

    @api.put("/{model_id}", dependencies=write, summary="register or replace a model schema")
    async def put_model(model_id: str, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            entry = ModelEntry.model_validate_json(body)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "<body>", "message": e["msg"]} for e in exc.errors()
            ]
            return JSONResponse({"detail": "invalid model schema", "errors": errors}, status_code=422)
        if entry.model_id != model_id:
            detail = f"model_id in the body ({entry.model_id!r}) differs from the path ({model_id!r})"
            return JSONResponse({"detail": detail}, status_code=422)
        try:
            created = await run_in_threadpool(catalog.put, entry)
        except ConfigDefinedError:
            return JSONResponse({"detail": f"model {model_id!r} is defined in the config file"}, status_code=409)
        except RetryableError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse(_view(entry, "api"), status_code=201 if created else 200)

    @api.delete("/{model_id}", dependencies=write, status_code=204, summary="remove a model registered over HTTP")
    def delete_model(model_id: str) -> Response:
        try:
            removed = catalog.delete(model_id)
        except ConfigDefinedError:
            raise HTTPException(409, f"model {model_id!r} is defined in the config file") from None
        if not removed:
            raise HTTPException(404, f"model {model_id!r} is not registered")
        return Response(status_code=204)

    return api
