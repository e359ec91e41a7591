"""The on-call surface over real HTTP: alerts list + filters, ack, silences CRUD, SSE stream, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mlmon_alerting.cli import sse_events
from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import HttpSink, isolated_kafka, unique, wait_for

from .conftest import API_KEY, metrics, running_service, send

AUTH = {"X-API-Key": API_KEY}
MLMON = [sys.executable, "-m", "mlmon_common.cli"]


def config(receiver: str) -> str:
    return f"""
route: {{receiver: hook, group_wait: 0s, group_interval: 1s}}
receivers: [{{name: hook, webhook_configs: [{{url: "{receiver}/hook"}}]}}]
"""


class SseReader:
    """Reads ``/v1/alerts/stream`` in a thread; ``frames`` are (event, id, data) tuples.

    The service sends a keep-alive comment every 0.5 s (test options), so the thread sees ``stop``
    quickly and closes the connection (uvicorn waits for open streams when it shuts down)."""

    def __init__(self, url: str) -> None:
        self.frames: list[tuple[str, str, str]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()

    def _lines(self, resp: httpx.Response) -> Iterator[str]:
        for line in resp.iter_lines():
            if self.stop.is_set():
                return
            yield line

    def _run(self, url: str) -> None:
        with httpx.stream("GET", f"{url}/v1/alerts/stream", timeout=None) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            self.connected.set()
            for frame in sse_events(self._lines(resp)):
                self.frames.append(frame)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


def cli(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([*MLMON, *args], capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_alerts_api_ack_silences_and_stream(
    kafka: KafkaSettings, redis_settings: RedisSettings, http_receiver: HttpSink, request: pytest.FixtureRequest
) -> None:
    with running_service(kafka, redis_settings, config(http_receiver.url)) as (url, _parts):
        reader = SseReader(url)
        request.addfinalizer(reader.close)
        assert reader.connected.wait(10)
        wait_for(lambda: _parts.engine.hub.subscribers == 1, 10, "the SSE subscriber")

        # A silence created first mutes churn's notification, not fraud's.
        silence = httpx.post(
            f"{url}/v1/silences",
            json={"matchers": ['model_id="churn"'], "duration_s": 600, "created_by": "ana", "comment": "retraining"},
            headers=AUTH,
        )
        assert silence.status_code == 201, silence.text
        sid = silence.json()["id"]
        assert silence.json()["state"] == "active"

        send(kafka, metrics("churn", 0.5), metrics("fraud", 0.6))
        wait_for(lambda: len(reader.frames) >= 2, 20, "two alert events on the SSE stream")
        events = [json.loads(data) for name, _id, data in reader.frames]
        assert {e["model_id"] for e in events} == {"churn", "fraud"}
        assert all(name == "alert" and ident == json.loads(data)["event_id"] for name, ident, data in reader.frames)

        wait_for(lambda: http_receiver.on("/hook"), 20, "fraud's notification")
        notified = {a["labels"]["model_id"] for r in http_receiver.on("/hook") for a in r.json()["alerts"]}
        assert notified == {"fraud"}

        listed = httpx.get(f"{url}/v1/alerts", params={"model_id": "churn"}).json()
        assert listed["count"] == 1
        churn = listed["alerts"][0]
        assert churn["silenced_by"] == [sid]
        assert churn["severity"] == "critical"
        assert churn["status"] == "firing"
        assert httpx.get(f"{url}/v1/alerts", params={"severity": "warning"}).json()["count"] == 0
        assert httpx.get(f"{url}/v1/alerts", params={"status": "firing"}).json()["count"] == 2

        # Acknowledge: a lifecycle event on the stream, visible in the list.
        fp = churn["fingerprint"]
        acked = httpx.post(f"{url}/v1/alerts/{fp}/ack", json={"by": "ana"}, headers=AUTH)
        assert acked.status_code == 200
        assert acked.json()["acknowledged_by"] == "ana"
        wait_for(lambda: len(reader.frames) >= 3, 10, "the acknowledgement event")
        assert json.loads(reader.frames[2][2])["acknowledged_by"] == "ana"

        # Silences: list, expire, 404 on unknown.
        assert [s["id"] for s in httpx.get(f"{url}/v1/silences", params={"state": "active"}).json()["silences"]] == [
            sid
        ]
        gone = httpx.delete(f"{url}/v1/silences/{sid}", headers=AUTH)
        assert gone.status_code == 200
        assert gone.json()["state"] == "expired"
        assert httpx.get(f"{url}/v1/silences", params={"state": "active"}).json()["count"] == 0

        # The CLI against the same service (a real `mlmon` process each time).
        code, out, _ = cli("alerts", "list", "--url", url, "--status", "firing")
        assert code == 0
        assert len(out.splitlines()) == 2
        assert any("model=churn" in line and "ack=ana" in line for line in out.splitlines())
        key = ("--url", url, "--api-key", API_KEY)
        code, out, _ = cli("silences", "add", *key, "-m", 'model_id="fraud"', "--duration", "30m",
                           "--comment", "known issue", "--author", "bo", "-q")  # fmt: skip
        assert code == 0
        new_id = out.strip()
        code, out, _ = cli("silences", "list", "--url", url, "--state", "active")
        assert new_id in out
        code, out, _ = cli("silences", "expire", *key, new_id)
        assert code == 0
        assert "expired" in out
        code, _, err = cli("silences", "expire", *key, "nope")
        assert code == 1
        assert "HTTP 404: no silence with id 'nope'" in err
        code, _, err = cli("silences", "add", "--url", url, "-m", 'model_id="x"', "--comment", "c")
        assert code == 1
        assert "HTTP 401" in err
        code, _, err = cli("silences", "add", *key, "-m", 'model_id="x"', "--comment", "c", "--duration", "soon")
        assert code == 2
        assert "invalid duration 'soon'" in err

        # `mlmon alerts tail` follows the stream: one line per alert.
        tail = subprocess.Popen(
            [*MLMON, "alerts", "tail", "--url", url, "--count", "1"], stdout=subprocess.PIPE, text=True
        )
        wait_for(lambda: _parts.engine.hub.subscribers == 2, 15, "the tail subscriber")
        send(kafka, metrics("churn", 0.99))
        out, _ = tail.communicate(timeout=20)
        assert tail.returncode == 0
        assert len(out.splitlines()) == 1
        assert "RESOLVED" in out
        assert "model=churn" in out
        reader.close()
        assert not reader.thread.is_alive()


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "detail"),
    [
        ("POST", "/v1/alerts/abc/ack", {"by": "ana"}, {}, 401, "missing or wrong API key"),
        ("POST", "/v1/alerts/abc/ack", {"by": "ana"}, {"X-API-Key": "wrong"}, 401, "missing or wrong API key"),
        ("POST", "/v1/silences", {}, {}, 401, "missing or wrong API key"),
        ("DELETE", "/v1/silences/x", None, {}, 401, "missing or wrong API key"),
        ("POST", "/v1/alerts/unknown-fp/ack", {"by": "ana"}, AUTH, 404, "no alert with fingerprint 'unknown-fp'"),
        ("DELETE", "/v1/silences/unknown", None, AUTH, 404, "no silence with id 'unknown'"),
        ("POST", "/v1/alerts/abc/ack", {"by": ""}, AUTH, 422, "at least 1 character"),
        ("POST", "/v1/alerts/abc/ack", {"who": "ana"}, AUTH, 422, "Field required"),
        ("POST", "/v1/silences", {"matchers": ["model_id"], "duration_s": 60, "created_by": "a",
                                  "comment": "c"}, AUTH, 422, "bad matcher 'model_id'"),
        ("POST", "/v1/silences", {"matchers": ['model_id=~".*"'], "duration_s": 60, "created_by": "a",
                                  "comment": "c"}, AUTH, 422, "would silence everything"),
        ("POST", "/v1/silences", {"matchers": ['a="b"'], "created_by": "a", "comment": "c"}, AUTH, 422,
         "exactly one of ends_at and duration_s"),
        ("POST", "/v1/silences", {"matchers": ['a="b"'], "duration_s": 60, "created_by": "a"}, AUTH, 422,
         "Field required"),
        ("POST", "/v1/silences", {"matchers": ['a="b"'], "starts_at": "2026-01-02T00:00:00Z",
                                  "ends_at": "2026-01-01T00:00:00Z", "created_by": "a", "comment": "c"}, AUTH, 422,
         "ends_at must not be before starts_at"),
        ("GET", "/v1/alerts?status=burning", None, {}, 422, "'pending', 'firing' or 'resolved'"),
        ("GET", "/v1/alerts?severity=urgent", None, {}, 422, "'critical', 'warning' or 'info'"),
        ("GET", "/v1/silences?state=later", None, {}, 422, "'pending', 'active' or 'expired'"),
        ("GET", "/v1/alerts?model_id=", None, {}, 422, "at least 1 character"),
        ("POST", "/v1/silences", "not json", AUTH, 422, "JSON decode error"),
        ("POST", "/v1/silences", {"matchers": ['a="b"'], "duration_s": 60, "created_by": "a", "comment": "c",
                                  "colour": "red"}, AUTH, 422, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_requests(
    api: str, method: str, path: str, body: Any, headers: dict[str, str], status: int, detail: str
) -> None:
    if isinstance(body, str):
        resp = httpx.request(method, api + path, content=body, headers={**headers, "Content-Type": "application/json"})
    else:
        resp = httpx.request(method, api + path, json=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert detail in resp.text


def test_ack_of_resolved_alert_is_a_conflict(api_parts: tuple[str, Any], kafka: KafkaSettings) -> None:
    url, _parts = api_parts
    send(kafka, metrics("m1", 0.5))
    fp = wait_for(lambda: [a["fingerprint"] for a in httpx.get(f"{url}/v1/alerts").json()["alerts"]], 20, "alert")[0]
    send(kafka, metrics("m1", 0.99))
    wait_for(lambda: httpx.get(f"{url}/v1/alerts", params={"status": "resolved"}).json()["count"], 20, "resolve")
    resp = httpx.post(f"{url}/v1/alerts/{fp}/ack", json={"by": "ana"}, headers=AUTH)
    assert resp.status_code == 409
    assert "is resolved; only pending or firing" in resp.text
    outbox = httpx.get(f"{url}/v1/receivers/outbox").json()
    assert set(outbox) == {"pending", "failed", "delivered", "recent_failures"}


@pytest.fixture(scope="module")
def api(infra: tuple[str, str]) -> Iterator[str]:
    """One service for the bad-request cases (no alert ever fires: the receiver is never called)."""
    kafka = isolated_kafka(infra[0])
    redis_settings = RedisSettings(url=infra[1], key_prefix=unique("mlmon-test:") + ":")  # type: ignore[arg-type]
    with running_service(kafka, redis_settings, config("http://127.0.0.1:9")) as (url, _parts):
        yield url


@pytest.fixture
def api_parts(kafka: KafkaSettings, redis_settings: RedisSettings, http_receiver: HttpSink) -> Iterator[Any]:
    with running_service(kafka, redis_settings, config(http_receiver.url)) as parts:
        yield parts
