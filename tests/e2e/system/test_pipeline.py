"""The whole embedded stack, started as the README's run command (`mlmon up`), end to end.

A seeded, scripted fleet of three models runs through the real broker, Redis and all five services:

* ``e2e-drift`` (classification): from its 700th prediction two numeric features shift by 3 sd (data drift);
* ``e2e-latency`` (regression): from its 500th prediction latencies are x12 (p95 ~0.6 s > latency_max 0.2 s);
* ``e2e-healthy`` (classification): nothing happens.

Time is compressed through the config (5 s metric windows, a 300-event drift reference, 50-event test windows,
1 s group_wait, every severity notified at once) and the fleet rate (20 predictions/s per model, labels ~1 s
later). An SMTP server (aiosmtpd) and an HTTP webhook receiver run in the test as the alerting receivers.

Asserted, with bounded waits: the drift and latency alerts reach both receivers and nothing else does (nothing at
all for the healthy model); the drift alert becomes a retraining plan in the maintenance API, which is approved over
HTTP with the run directory's API key, executed by the local command and verified (decision and metrics
recorded); a promotion resets the drift reference, which resolves the alert; the dashboard API (fleet, alerts,
metrics) and the daily report (JSON and HTML) show the incident and a healthy third model.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from mlmon_common.devstack import free_port
from mlmon_common.testing import wait_for

from .conftest import SmtpSink, WebhookSink

logger = logging.getLogger(__name__)
T = TypeVar("T")

DRIFT, LATENCY, HEALTHY = "e2e-drift", "e2e-latency", "e2e-healthy"
EXPECTED_ALERTS = {("DataDrift", DRIFT), ("ModelLatencyHigh", LATENCY)}
SERVICES = ("reporting", "collector", "drift", "alerting", "maintenance")
#: Generous bounds for a loaded 2-core machine; the typical run takes about a third of them.
STARTUP_S, ALERT_S, PLAN_S, REPORT_S = 120, 150, 90, 60


def _numeric(name: str, mean: float, std: float, decimals: int = 3) -> dict[str, Any]:
    return {"name": name, "mean": mean, "std": std, "decimals": decimals}


def _model(model_id: str, task: str, features: list[dict[str, Any]], coefficients: dict[str, float]) -> dict[str, Any]:
    # noise_std 0: labels follow the model exactly (accuracy 1.0), so only the scripted incidents can alert.
    return {
        "model_id": model_id,
        "task": task,
        "rate_per_s": 20,
        "features": features,
        "coefficients": coefficients,
        "intercept": 0 if task == "classification" else 4,
        "noise_std": 0 if task == "classification" else 1,
        "error_rate": 0,
        "latency_ms_median": 30,
        "label_delay_s_mean": 1,
        "label_missing_rate": 0,
    }


SCENARIO: dict[str, Any] = {
    "seed": 20261127,
    "duration_s": 900,  # one round covers the whole test (--loop would replay the incidents afterwards)
    "models": [
        _model(
            DRIFT,
            "classification",
            [
                _numeric("amount", 80, 20, 2),
                _numeric("age_days", 400, 100, 1),
                _numeric("score_in", 0, 1),
                {"kind": "categorical", "name": "channel", "categories": ["web", "app", "store"],
                 "weights": [0.5, 0.3, 0.2]},
            ],
            {"amount": 0.05, "age_days": -0.01, "score_in": 1.0},
        ),
        _model(LATENCY, "regression", [_numeric("distance_km", 8, 3, 2), _numeric("load", 1, 0.1)],
               {"distance_km": 2.5, "load": 6}),
        _model(HEALTHY, "classification", [_numeric("tenure", 24, 10, 1), _numeric("calls", 2, 1)],
               {"tenure": -0.1, "calls": 1.2}),
    ],
    # By prediction index, not time: the drift reference (the first 300 events) is clean however slowly the
    # stack starts.
    "incidents": [
        {"kind": "mean_shift", "model_id": DRIFT, "start_index": 700, "feature": "amount", "shift": 60},
        {"kind": "mean_shift", "model_id": DRIFT, "start_index": 700, "feature": "age_days", "shift": 300},
        {"kind": "latency_spike", "model_id": LATENCY, "start_index": 500, "factor": 12},
    ],
}  # fmt: skip


def config(work: Path, smtp_port: int, hook_url: str) -> dict[str, Any]:
    """One MLMON_CONFIG for every service, compressed in time."""
    email = {
        "to": ["oncall@example.com"],
        "from": "mlmon@example.com",
        "smarthost": f"127.0.0.1:{smtp_port}",
        "starttls": False,
        "send_resolved": True,
        "timeout": "5s",
    }
    return {
        "collector": {"window_s": 5, "allowed_lateness_s": 120},
        "drift": {"reference_size": 300, "window_events": 50, "long_windows": 3},
        "alerting": {
            "thresholds": {"defaults": {"accuracy_min": 0.8}},
            # Host resources of a loaded CI machine are not what this test is about.
            "rules": {name: {"enabled": False} for name in ("cpu_max", "memory_max", "disk_max")},
            "route": {
                "receiver": "oncall",
                "group_by": ["alertname", "model_id"],
                "group_wait": "1s",
                "group_interval": "5s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {"name": "oncall", "email_configs": [email], "webhook_configs": [{"url": hook_url, "timeout": "5s"}]}
            ],
            "notification_policy": {"critical": "immediate", "warning": "immediate", "info": "immediate"},
        },
        "maintenance": {
            "schedules": {"retraining": None, "optimization": None, "backup": None, "cleanup": None},
            "verification": {"min_holdout_rows": 20},
            "executors": {"command": {"state_dir": str(work / "jobs")}},
            "backup": {"dir": str(work / "backups")},
        },
        "reporting": {"thresholds": {"accuracy_min": 0.8}},
    }


def _port_base() -> int:
    """A base port with the five service ports after it free (the run command's --port-base)."""
    for attempt in range(200):
        base = 20000 + ((os.getpid() + attempt * 37) % 900) * 10
        try:
            for port in range(base, base + len(SERVICES)):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free block of 5 ports")


@dataclass
class Stack:
    """A running `mlmon up`: its process, banner URLs, run directory and API key."""

    proc: subprocess.Popen[bytes]
    out: Path
    run_dir: Path
    urls: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    started: float = field(default_factory=time.monotonic)
    timeline: dict[str, float] = field(default_factory=dict)

    def mark(self, what: str) -> None:
        self.timeline[what] = round(time.monotonic() - self.started, 1)
        logger.info("e2e milestone at %5.1f s: %s", self.timeline[what], what)

    def tails(self, lines: int = 25) -> str:
        """The tail of `mlmon up`'s output and of every service log in the run directory."""
        out = [f"timeline: {self.timeline}"]
        for path in [self.out, *sorted(self.run_dir.glob("*.log"))]:
            text = path.read_text(errors="replace").splitlines() if path.exists() else ["(missing)"]
            out.append(f"----- {path.name} (last {lines} lines) -----")
            out.extend(line[:400] for line in text[-lines:])
        return "\n".join(out)

    def get(self, service: str, path: str, **params: Any) -> Any:
        resp = httpx.get(f"{self.urls[service]}{path}", params=params, timeout=10)
        resp.raise_for_status()
        return resp.json() if "json" in resp.headers.get("content-type", "") else resp.text

    def post(self, service: str, path: str, body: Any, key: str | None = None) -> httpx.Response:
        headers = {"X-API-Key": key} if key is not None else {}
        return httpx.post(f"{self.urls[service]}{path}", json=body, headers=headers, timeout=10)


def _env(extra: dict[str, str]) -> dict[str, str]:
    # Nothing of the caller's MLMON_* leaks in: `mlmon up` starts its own broker and Redis and makes its API key.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLMON_")}
    return env | {
        "MLMON_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "MLMON_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "MLMON_LOG_LEVEL": "INFO",
        **extra,
    }


@contextmanager
def mlmon_up(work: Path, env: dict[str, str], *extra_args: str) -> Iterator[Stack]:
    """`python -m mlmon_common.cli up` (what `make run` runs) on free ports; SIGINT and a clean exit after."""
    run_dir = work / "run"
    argv = [
        sys.executable, "-m", "mlmon_common.cli", "up",
        "--run-dir", str(run_dir),
        "--kafka-port", str(free_port()),
        "--redis-port", str(free_port()),
        "--port-base", str(_port_base()),
        *extra_args,
    ]  # fmt: skip
    out = work / "up.log"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=_env(env), cwd=work)
    stack = Stack(proc, out, run_dir)
    try:
        yield stack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def wait_banner(stack: Stack) -> None:
    wait_for(
        lambda: "Ctrl-C stops everything" in stack.out.read_text() or stack.proc.poll() is not None,
        STARTUP_S,
        "the `mlmon up` banner",
        interval_s=0.2,
    )
    assert stack.proc.poll() is None, "`mlmon up` exited before its banner"
    urls = dict(re.findall(r"^\s+(\w+)\s+(http://\S+?)/?$", stack.out.read_text(), re.M))
    stack.urls = {"reporting" if k == "dashboard" else k: v for k, v in urls.items()}
    assert set(stack.urls) == set(SERVICES), stack.urls
    stack.api_key = (stack.run_dir / "api_key").read_text().strip()
    stack.mark("banner")


def poll(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """``wait_for`` on a check that talks HTTP: a refused connection or a 5xx is 'not yet'."""

    def attempt() -> T | None:
        try:
            return fn()
        except (httpx.HTTPError, KeyError):
            return None

    result = wait_for(attempt, timeout_s, what, interval_s=0.5)
    assert result is not None
    return result


def _pairs(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["labels"].get("alertname", ""), a["labels"].get("model_id", "")) for a in alerts}


def _retraining_plan(stack: Stack) -> dict[str, Any] | None:
    plans = stack.get("maintenance", "/v1/plans", model=DRIFT)["plans"]
    return next((p for p in plans if any(a["type"] == "retraining" for a in p["actions"])), None)


def _final(stack: Stack, plan_id: str) -> dict[str, Any] | None:
    plan: dict[str, Any] = stack.get("maintenance", f"/v1/plans/{plan_id}")
    return plan if plan["state"] in ("succeeded", "failed", "cancelled") else None


def check_notifications(stack: Stack, smtp: SmtpSink, hook: WebhookSink) -> None:
    wait_for(lambda: _pairs(hook.alerts()) >= EXPECTED_ALERTS, ALERT_S, f"webhook alerts {EXPECTED_ALERTS}")
    stack.mark("webhook: drift + latency alerts")
    wait_for(
        lambda: all(any(name in t and model in t for t in smtp.texts()) for name, model in EXPECTED_ALERTS),
        ALERT_S / 3,
        f"emails naming {EXPECTED_ALERTS}",
    )
    stack.mark("smtp: drift + latency alerts")
    firing = hook.alerts("firing")
    assert _pairs(firing) == EXPECTED_ALERTS, f"unexpected webhook alerts: {_pairs(firing) - EXPECTED_ALERTS}"
    drift = next(a for a in firing if a["labels"]["alertname"] == "DataDrift")
    assert drift["labels"]["model_id"] == DRIFT
    assert drift["labels"]["severity"] == "warning"
    assert "features drifting" in drift["annotations"]["summary"]
    latency = next(a for a in firing if a["labels"]["alertname"] == "ModelLatencyHigh")
    assert "p95 latency" in latency["annotations"]["summary"]


def check_retraining(stack: Stack) -> dict[str, Any]:
    plan = poll(lambda: _retraining_plan(stack), PLAN_S, f"a retraining plan for {DRIFT}")
    stack.mark("retraining plan proposed")
    assert plan["state"] == "proposed", plan  # retraining needs a person's approval by default
    assert any(r["name"] == "DataDrift" for r in plan["reasons"]), plan["reasons"]
    approve = f"/v1/plans/{plan['id']}/approve"
    body = {"actor": "e2e-test", "reason": "drift confirmed by the e2e test"}
    assert stack.post("maintenance", approve, body).status_code == 401, "approval without the API key"
    assert stack.post("maintenance", approve, body, key="wrong-key-0123456789").status_code == 401
    assert stack.post("maintenance", "/v1/plans/no-such-plan/approve", body, key=stack.api_key).status_code == 404
    resp = stack.post("maintenance", approve, body, key=stack.api_key)
    assert resp.status_code == 200, resp.text
    stack.mark("plan approved")
    done = poll(lambda: _final(stack, plan["id"]), PLAN_S, f"plan {plan['id']} to finish")
    stack.mark(f"plan {done['state']}")
    assert done["state"] == "succeeded", done
    states = [h["to_state"] for h in done["history"]]
    assert states == ["proposed", "approved", "running", "succeeded"], states
    assert done["history"][1]["actor"] == "e2e-test"
    retrain = done["result"]["actions"]["retraining"]
    assert retrain["executor"] == "command", retrain
    assert retrain["exit_code"] in (0, 3), retrain
    verification = done["result"]["verification"]
    assert verification["decision"] in ("promote", "reject"), verification
    assert 0 <= verification["after"]["accuracy"] <= 1, verification
    assert verification["holdout_rows"] >= 20, verification
    assert done["result"]["promoted"] is (verification["decision"] == "promote")
    assert Path(retrain["job_dir"], "data.ndjson").stat().st_size > 0, "the job got the model's outcomes"
    again = stack.post("maintenance", approve, body, key=stack.api_key)
    assert again.status_code == 409, "a finished plan cannot be approved again"
    return done


def check_dashboard(stack: Stack) -> None:
    def fleet() -> dict[str, Any] | None:
        models = {m["model_id"]: m for m in stack.get("reporting", "/v1/models")["models"]}
        return models if {DRIFT, LATENCY, HEALTHY} <= set(models) else None

    models = poll(fleet, REPORT_S, "the three models in the dashboard fleet")
    assert models[HEALTHY]["status"] == "healthy", models[HEALTHY]
    assert models[HEALTHY]["breaches"] == [], models[HEALTHY]
    assert models[HEALTHY]["key_metrics"]["accuracy"] == 1.0, models[HEALTHY]
    assert models[LATENCY]["status"] in ("degraded", "critical"), models[LATENCY]
    assert "latency_p95_s > 0.2" in models[LATENCY]["breaches"], models[LATENCY]

    alerts = poll(
        lambda: (a := stack.get("reporting", "/v1/alerts")["alerts"]) and _pairs(a) >= EXPECTED_ALERTS and a,
        REPORT_S,
        "the incident's alerts in the dashboard",
    )
    assert not [a for a in alerts if a["model_id"] == HEALTHY], "no alert for the healthy model"

    latency = stack.get("reporting", f"/v1/models/{LATENCY}/metrics", timeframe="1h")
    assert "latency_p95_s > 0.2" in latency["breaches"], latency["breaches"]
    assert latency["summary"]["latency"]["max"] > 0.2, latency["summary"]
    drift = stack.get("reporting", f"/v1/models/{DRIFT}/drift", timeframe="1h")
    assert drift, "the drift view of the drifting model"
    healthy = stack.get("reporting", f"/v1/models/{HEALTHY}/metrics", timeframe="1h")
    assert healthy["breaches"] == [], healthy["breaches"]
    stack.mark("dashboard API")


def check_daily_report(stack: Stack, plan_id: str) -> None:
    def report() -> dict[str, Any] | None:
        rep: dict[str, Any] = stack.get("reporting", "/v1/reports/daily", format="json")
        incidents = {(i["alertname"], i["model_id"]) for i in rep["incidents"]["items"]}
        plans = {i["plan_id"]: i["state"] for i in rep["maintenance"]["items"]}
        return rep if incidents >= EXPECTED_ALERTS and plans.get(plan_id) == "succeeded" else None

    rep = poll(report, REPORT_S, "the daily report to show the incident and the finished plan")
    by_model = {m["model_id"]: m for m in rep["models"]}
    assert by_model[DRIFT]["alerts_fired"] >= 1, by_model[DRIFT]
    assert by_model[LATENCY]["alerts_fired"] >= 1, by_model[LATENCY]
    assert by_model[HEALTHY]["alerts_fired"] == 0, by_model[HEALTHY]
    assert by_model[HEALTHY]["status"] == "healthy", by_model[HEALTHY]
    assert by_model[DRIFT]["metrics"]["data_drift"]["max"] > 0.1, by_model[DRIFT]["metrics"]
    assert DRIFT in rep["drift"]["by_model"], rep["drift"]
    assert HEALTHY not in rep["drift"]["by_model"], rep["drift"]
    assert not [i for i in rep["incidents"]["items"] if i["model_id"] == HEALTHY], rep["incidents"]
    html = stack.get("reporting", "/v1/reports/daily", format="html")
    assert html.lstrip().lower().startswith("<!doctype html"), html[:200]
    for needle in (DRIFT, LATENCY, HEALTHY, "DataDrift", "ModelLatencyHigh"):
        assert needle in html, f"{needle!r} missing from the HTML daily report"
    stack.mark("daily report")


def check_healthy_left_alone(stack: Stack, smtp: SmtpSink, hook: WebhookSink) -> None:
    status = poll(
        lambda: (s := stack.get("drift", f"/v1/models/{HEALTHY}/drift"))["reference"]["building"] is False and s,
        REPORT_S,
        "the healthy model's drift reference",
    )
    assert status["data_drift"]["drifting"] is False, status
    assert not [a for a in hook.alerts() if a["labels"].get("model_id") == HEALTHY], "webhook alert for healthy"
    assert not [t for t in smtp.texts() if HEALTHY in t], "email about the healthy model"
    assert stack.get("maintenance", "/v1/plans", model=HEALTHY)["plans"] == [], "a plan for the healthy model"
    assert _pairs(hook.alerts()) <= EXPECTED_ALERTS, _pairs(hook.alerts())


def test_fleet_incidents_flow_from_simulator_to_receivers_plans_and_reports(
    tmp_path: Path, smtp_sink: SmtpSink, webhook_sink: WebhookSink
) -> None:
    scenario, cfg = tmp_path / "scenario.yml", tmp_path / "mlmon.yml"
    scenario.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    cfg.write_text(yaml.safe_dump(config(tmp_path, smtp_sink.port, webhook_sink.url), sort_keys=False))
    env = {
        "MLMON_CONFIG": str(cfg),
        "MLMON_COLLECTOR_SIMULATE_SCENARIO": str(scenario),
        "MLMON_COLLECTOR_SIMULATE_SPEED": "1",
    }
    with mlmon_up(tmp_path, env) as stack:
        try:
            wait_banner(stack)
            check_notifications(stack, smtp_sink, webhook_sink)
            plan = check_retraining(stack)
            if plan["result"]["promoted"]:
                # The promotion reset the drift reference: the drift ends and the alert is resolved, notified.
                wait_for(
                    lambda: ("DataDrift", DRIFT) in _pairs(webhook_sink.alerts("resolved")),
                    ALERT_S / 2,
                    "the resolved DataDrift notification after the promotion",
                )
                stack.mark("drift alert resolved")
            check_dashboard(stack)
            check_daily_report(stack, plan["id"])
            check_healthy_left_alone(stack, smtp_sink, webhook_sink)
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n\n{stack.tails()}") from exc
        logger.info("e2e timeline (s since `mlmon up`): %s", stack.timeline)
    assert stack.proc.returncode == 0, f"`mlmon up` exit code {stack.proc.returncode}\n{stack.tails()}"


def test_a_bad_config_stops_the_run_command_with_the_problem(tmp_path: Path) -> None:
    """Bad input at the top: an invalid MLMON_CONFIG stops `mlmon up` (exit 1) and the log names the problem."""
    cfg = tmp_path / "bad.yml"
    cfg.write_text("alerting:\n  route: {receiver: nobody}\n  receivers: [{name: oncall}]\n")
    with mlmon_up(tmp_path, {"MLMON_CONFIG": str(cfg)}, "--no-sim", "--only", "alerting") as stack:
        code = stack.proc.wait(STARTUP_S)
        text = stack.out.read_text()
        assert code == 1, text
        assert "alerting.log" in text, text
        log = (stack.run_dir / "alerting.log").read_text()
        assert f"{cfg}: alerting.route.receiver: unknown receiver 'nobody'" in log, log[-2000:]
