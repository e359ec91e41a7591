"""``POST /v1/predictions`` and ``POST /v1/labels``: ingest for model servers that cannot speak Kafka.

Body: a JSON array (``application/json``) or NDJSON (``application/x-ndjson``). Valid items are produced
to the raw topics and acknowledged by the broker before the response. Status: 202 all accepted, 207 some
accepted (the others listed in ``errors``), 422 none accepted, 400 unparsable JSON, 415 other content
types, 401 missing/wrong API key, 413 body above the limit, 503 broker did not acknowledge in time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mlmon_collector.ingest import Batch, BodyError, body_format, parse_batch
from mlmon_common import topics
from mlmon_common.events import LabelEvent, PredictionEvent
from mlmon_common.kafka import EventProducer

logger = logging.getLogger(__name__)


def _status(batch: Batch) -> int:
    if not batch.errors:
        return 202
    return 207 if batch.events else 422


def router(producer: EventProducer, require_key: Callable[[Request], None], ack_timeout_s: float = 10.0) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["ingest"], dependencies=[Depends(require_key)])

    def ingest(body: bytes, content_type: str | None, model: Any, topic: str) -> JSONResponse:
        try:
            batch = parse_batch(body, body_format(content_type), model)
        except BodyError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        for _, event in batch.events:
            producer.send(topic, event)
        if batch.events:
            left = producer.flush(ack_timeout_s)
            failures = producer.take_failures()
            if left or failures:
                logger.error("ingest not acknowledged", extra={"queued": left, "failed": len(failures)})
                return JSONResponse(
                    {"detail": f"the broker did not acknowledge the batch within {ack_timeout_s}s; retry"},
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
        return JSONResponse(
            {
                "accepted": len(batch.events),
                "rejected": batch.size - len(batch.events),
                "event_ids": [e.event_id for _, e in batch.events],
                "errors": [{"index": e.index, "field": e.field, "message": e.message} for e in batch.errors],
            },
            status_code=_status(batch),
        )

    @api.post("/predictions", summary="ingest prediction events (JSON array or NDJSON)")
    async def predictions(request: Request) -> JSONResponse:
        body = await request.body()
        ctype = request.headers.get("content-type")
        return await run_in_threadpool(ingest, body, ctype, PredictionEvent, topics.RAW_PREDICTIONS.name)

    @api.post("/labels", summary="ingest label events (JSON array or NDJSON)")
    async def labels(request: Request) -> JSONResponse:
        body = await request.body()
        ctype = request.headers.get("content-type")
        return await run_in_threadpool(ingest, body, ctype, LabelEvent, topics.RAW_LABELS.name)

    return api
