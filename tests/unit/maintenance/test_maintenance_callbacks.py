"""``POST /v1/callbacks/webhook``: signed status reports finish a plan; bad signatures and bodies do not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlmon_maintenance.api.callbacks import router
from mlmon_maintenance.executors.webhook import SIGNATURE_HEADER, StatusCallback, sign
from mlmon_maintenance.state import PlanNotFoundError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = "s3cret-s3cret"


class _Store:
    def get(self, plan_id: str) -> None:
        if plan_id != "p1":
            raise PlanNotFoundError(plan_id)


class _Worker:
    store = _Store()

    def __init__(self) -> None:
        self.seen: list[StatusCallback] = []

    def clock(self) -> datetime:
        return NOW

    def on_callback(self, cb: StatusCallback) -> None:
        self.seen.append(cb)


def _client(worker: Any, secret: str | None = SECRET) -> TestClient:
    app = FastAPI()
    app.include_router(router(worker, secret))
    return TestClient(app)


def _post(client: TestClient, doc: dict[str, Any], secret: str = SECRET) -> Any:
    body = json.dumps(doc).encode()
    headers = {SIGNATURE_HEADER: sign(body, secret, int(NOW.timestamp())), "Content-Type": "application/json"}
    return client.post("/v1/callbacks/webhook", content=body, headers=headers)


def test_signed_callback_reaches_the_worker() -> None:
    worker = _Worker()
    response = _post(_client(worker), {"plan_id": "p1", "state": "succeeded", "at": NOW.isoformat()})
    assert response.status_code == 200, response.text
    assert [(c.plan_id, c.state) for c in worker.seen] == [("p1", "succeeded")]


def test_bad_callbacks_are_refused() -> None:
    worker = _Worker()
    client = _client(worker)
    good = {"plan_id": "p1", "state": "failed", "at": NOW.isoformat()}
    assert _post(client, good, secret="wrong-secret").status_code == 401
    assert client.post("/v1/callbacks/webhook", json=good).status_code == 401  # no signature
    assert _post(client, {**good, "state": "exploded"}).status_code == 422
    assert _post(client, {**good, "plan_id": "unknown"}).status_code == 404
    assert _post(_client(worker, secret=None), good).status_code == 404  # no webhook executor configured
    assert worker.seen == []
