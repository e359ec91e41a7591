"""HTTP API of the drift service (the chassis adds ``/healthz``, ``/readyz``, ``/metrics``).

``PUT  /v1/models/{id}/reference``        upload a reference (JSON array of rows, NDJSON or CSV; API key)
``GET  /v1/models/{id}/reference``        the current (or ``?version=``) reference profile summary
``POST /v1/models/{id}/reference/reset``  rebuild the reference from the next events (API key)
``GET  /v1/models/{id}/drift``            current drift state of the model
``POST /v1/drift/detect``                 batch data drift between two tables
``POST /v1/models/{id}/model-drift``      model drift over a posted performance history
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from mlmon_common.events import utcnow
from mlmon_drift.batch import DataDriftMonitor
from mlmon_drift.config import DriftSection
from mlmon_drift.model_drift import ModelDriftMonitor
from mlmon_drift.reference import ReferenceProfile
from mlmon_drift.store import DriftStore

MIN_REFERENCE_ROWS = 20
ModelId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f/]+$")]
Table = dict[str, list[Any]] | list[dict[str, Any]]
_JSON_TYPES = ("application/json",)
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")
_CSV_TYPES = ("text/csv", "application/csv")


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Table = Field(description="Column dict (name -> values) or list of row objects.")
    current: Table
    alpha: float = Field(0.05, gt=0, lt=1, description="Benjamini-Hochberg level across columns.")
    share_threshold: float = Field(0.1, ge=0, le=1, description="Overall drift when the drifted share is above.")
    psi_bins: int = Field(10, ge=2, le=100)


class ModelDriftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    performance_history: list[dict[str, Any]] = Field(min_length=1, description="Time-ordered metric values.")
    threshold: float | None = Field(None, ge=0, description="Default: drift.model_drift_max of the config.")
    reference_points: int | None = Field(None, ge=1)
    recent_points: int = Field(5, ge=1)


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _columns(table: Table, which: str) -> dict[str, list[Any]]:
    if isinstance(table, dict):
        return table
    cols: dict[str, list[Any]] = {}
    for i, row in enumerate(table):
        for name in row:
            cols.setdefault(name, [None] * i)
        for name, values in cols.items():
            values.append(row.get(name))
    if not cols:
        raise HTTPException(422, f"{which}: no rows")
    return cols


_INT = re.compile(r"^[+-]?\d+$")


def _csv_value(text: str) -> Any:
    if text == "":
        return None
    if _INT.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def parse_rows(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Rows of an uploaded reference; ``HTTPException`` (415/422) naming the problem."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, "body is not UTF-8") from None
    if media in _JSON_TYPES:
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(rows, list):
            raise HTTPException(422, "JSON body must be an array of row objects")
    elif media in _NDJSON_TYPES:
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise HTTPException(422, f"invalid JSON on line {n}: {exc.msg}") from None
    elif media in _CSV_TYPES:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise HTTPException(422, "CSV body has no header row")
        try:
            rows = [{k: _csv_value(v or "") for k, v in row.items() if k is not None} for row in reader]
        except csv.Error as exc:
            raise HTTPException(422, f"invalid CSV: {exc}") from None
    else:
        raise HTTPException(
            415, f"content-type must be one of {', '.join(_JSON_TYPES + _NDJSON_TYPES + _CSV_TYPES)}, got {media!r}"
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise HTTPException(422, f"row {i}: must be an object of feature -> value")
        for name, value in row.items():
            if value is not None and not isinstance(value, bool | int | float | str):
                raise HTTPException(422, f"row {i}: feature {name!r} must be a number, string, boolean or null")
            if isinstance(value, float) and not math.isfinite(value):
                raise HTTPException(422, f"row {i}: feature {name!r} is not a finite number")
    if len(rows) < MIN_REFERENCE_ROWS:
        raise HTTPException(422, f"a reference needs at least {MIN_REFERENCE_ROWS} rows, got {len(rows)}")
    return rows


def build_router(store: DriftStore, section: DriftSection, require_key: Callable[..., None]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["drift"])
    write = [Depends(require_key)]

    @router.put("/models/{model_id}/reference", dependencies=write, status_code=201)
    async def put_reference(model_id: ModelId, request: Request) -> JSONResponse:
        rows = parse_rows(await request.body(), request.headers.get("content-type", ""))
        status = store.status(model_id) or {}
        version = store.next_upload_version(model_id, (status.get("reference") or {}).get("version"))
        now = utcnow()
        profile = ReferenceProfile.from_rows(
            rows,
            model_id=model_id,
            version=version,
            created_at=now,
            max_categories=section.for_model(model_id).max_categories,
        )
        store.save_uploaded_reference(profile, now)
        stored = store.reference(model_id, version)
        assert stored is not None
        return JSONResponse(_clean(stored.summary()), status_code=201)

    @router.get("/models/{model_id}/reference")
    def get_reference(model_id: ModelId, version: Annotated[int | None, Query(ge=1)] = None) -> JSONResponse:
        stored = store.reference(model_id, version)
        if stored is None:
            what = f"version {version}" if version else "a reference"
            raise HTTPException(404, f"model {model_id!r} has no {what}")
        return JSONResponse(_clean({**stored.summary(), "versions": store.versions(model_id)}))

    @router.post("/models/{model_id}/reference/reset", dependencies=write, status_code=202)
    def reset_reference(model_id: ModelId) -> dict[str, Any]:
        if not store.known_model(model_id):
            raise HTTPException(404, f"unknown model {model_id!r}")
        now = utcnow()
        store.request_reset(model_id, now)
        return {
            "model_id": model_id,
            "requested_at": now.isoformat(),
            "status": "the reference is rebuilt from the next events",
        }

    @router.get("/models/{model_id}/drift")
    def get_drift(model_id: ModelId) -> JSONResponse:
        status = store.status(model_id)
        if status is None:
            raise HTTPException(404, f"no drift state for model {model_id!r} (no events seen yet)")
        return JSONResponse(status)

    @router.post("/drift/detect")
    def detect(body: DetectRequest) -> JSONResponse:
        monitor = DataDriftMonitor(body.alpha, body.share_threshold, body.psi_bins)
        try:
            report = monitor.detect_drift(_columns(body.reference, "reference"), _columns(body.current, "current"))
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, str(exc)) from None
        return JSONResponse(_clean(report.to_dict()))

    @router.post("/models/{model_id}/model-drift")
    def model_drift(model_id: ModelId, body: ModelDriftRequest) -> JSONResponse:
        threshold = body.threshold if body.threshold is not None else section.for_model(model_id).model_drift_max
        try:
            monitor = ModelDriftMonitor(threshold, body.reference_points, body.recent_points)
            report = monitor.analyze_drift(model_id, body.performance_history)
        except (ValueError, TypeError) as exc:
            raise HTTPException(422, str(exc)) from None
        return JSONResponse(_clean(report.to_dict()))

    return router
