"""The service chassis: a FastAPI app with ``/healthz``, ``/readyz``, ``/metrics``, API-key auth and a body limit.

``/healthz``  200 while the process and its background loops are alive (liveness; a dead consumer thread fails it).
``/readyz``   200 only while every readiness check passes (consumer assigned and progressing, Redis answering);
              503 with the failing checks otherwise.
``/metrics``  Prometheus text format (see :mod:`mlmon_common.telemetry`).
Writes require ``X-API-Key: <key>`` (or ``Authorization: Bearer <key>``): :data:`ApiKey` as a dependency.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlmon_common.errors import RetryableError
from mlmon_common.settings import HttpSettings, ServiceSettings
from mlmon_common.telemetry import ServiceTelemetry

logger = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]


@dataclass
class Probes:
    """Named liveness and readiness checks a service registers."""

    liveness: dict[str, Check] = field(default_factory=dict)
    readiness: dict[str, Check] = field(default_factory=dict)

    @staticmethod
    def _run(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks.items():
            try:
                passed, detail = check()
            except Exception as exc:  # a failing probe is a failed check, never a 500
                passed, detail = False, f"{type(exc).__name__}: {exc}"
            ok = ok and passed
            results[name] = "ok" if passed else detail
        return ok, results

    def live(self) -> tuple[bool, dict[str, str]]:
        return self._run(self.liveness)

    def ready(self) -> tuple[bool, dict[str, str]]:
        return self._run(self.readiness)


class BodyLimit:
    """ASGI middleware: 413 for a request body above ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0
        state = {"too_large": False, "started": False}

        async def limited() -> Message:
            nonlocal seen
            if state["too_large"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # a streamed (chunked) body passed the limit: answer 413 ourselves
                    state["too_large"] = True
                    if not state["started"]:
                        state["started"] = True
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if state["too_large"]:
                return  # the 413 was sent; whatever the app answers to the disconnect is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not state["too_large"]:
                raise

    async def _reject(self, send: Send) -> None:
        body = b'{"detail":"request body exceeds the limit of %d bytes"}' % self.max_bytes
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def api_key_dependency(settings: ServiceSettings) -> Callable[[Request], None]:
    """A dependency that refuses requests without the configured API key (401), in constant time."""
    expected = settings.api_key.get_secret_value().encode() if settings.api_key else None

    def require(request: Request) -> None:
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if given is None and auth.lower().startswith("bearer "):
            given = auth[7:]
        if expected is None:
            raise HTTPException(503, "writes are disabled: no MLMON_API_KEY configured")
        if given is None or not hmac.compare_digest(given.encode(), expected):
            raise HTTPException(401, "missing or wrong API key", headers={"WWW-Authenticate": "Bearer"})

    return require


def create_app(
    *,
    service: str,
    settings: ServiceSettings,
    telemetry: ServiceTelemetry,
    probes: Probes,
    routers: Sequence[APIRouter] = (),
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """The FastAPI app of one service, with the chassis endpoints and the service's routers."""
    app = FastAPI(title=f"mlmon-{service}", version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.probes = probes
    telemetry.ready = lambda: probes.ready()[0]

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        ok, checks = probes.live()
        return JSONResponse({"status": "ok" if ok else "failing", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        ok, checks = probes.ready()
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    def metrics() -> Response:
        return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RetryableError)
    async def unavailable(request: Request, exc: RetryableError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"temporarily unavailable: {exc}"}, status_code=503, headers={"Retry-After": "5"}
        )

    for router in routers:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.http.max_body_bytes)
    return app


def serve(app: FastAPI, http: HttpSettings, **kwargs: Any) -> None:
    """Run the app with uvicorn; SIGTERM/SIGINT trigger the lifespan shutdown (which stops the consumer)."""
    uvicorn.run(app, host=http.host, port=http.port, log_config=None, access_log=False, **kwargs)
