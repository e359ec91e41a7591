"""``mlmon alerts tail|list|ack`` and ``mlmon silences add|list|expire``: the on-call terminal.

The commands talk to the alerting service's HTTP API: ``--url`` (default ``$MLMON_ALERTING_URL`` or
``http://127.0.0.1:8003``), writes with ``--api-key`` (default ``$MLMON_API_KEY``). Exit status 0 on
success, 1 when the service refused the request (its message is printed), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8003"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _client(args: argparse.Namespace) -> httpx.Client:
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=args.timeout)


def _check(resp: httpx.Response) -> Any:
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise CommandError(f"HTTP {resp.status_code}: {detail}")
    return resp.json()


class CommandError(Exception):
    pass


def alert_line(alert: dict[str, Any]) -> str:
    """One terminal line per alert (event or listed state)."""
    severity = alert["severity"] if isinstance(alert["severity"], str) else _SEVERITY.get(alert["severity"], "?")
    summary = (alert.get("annotations") or {}).get("summary") or alert["alertname"]
    when = alert.get("ends_at") if alert["status"] == "resolved" else alert.get("starts_at")
    ack = f" ack={alert['acknowledged_by']}" if alert.get("acknowledged_by") else ""
    value = f" value={alert['value']:.4g}" if isinstance(alert.get("value"), int | float) else ""
    return (
        f"{(when or '-')[:19]}  {alert['status'].upper():<8} {severity:<8} {alert['alertname']:<24} "
        f"model={alert['labels'].get('model_id', '-')}{value}{ack}  {summary}  [{alert['fingerprint']}]"
    )


_SEVERITY = {1: "critical", 2: "warning", 3: "info"}


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of each SSE message in ``lines``.

    >>> list(sse_events(iter(["event: alert", "id: 1", "data: {}", "", ": keepalive", ""])))
    [('alert', '1', '{}')]
    """
    event, ident, data = "message", "", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, ident, "\n".join(data)
            event, ident, data = "message", "", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)


def cmd_tail(args: argparse.Namespace) -> int:
    seen = 0
    with _client(args) as client, client.stream("GET", "/v1/alerts/stream", timeout=None) as resp:
        if resp.status_code != 200:
            raise CommandError(f"HTTP {resp.status_code}: cannot open the alert stream")
        for event, _id, data in sse_events(resp.iter_lines()):
            if event != "alert":
                continue
            alert = json.loads(data)
            _out(json.dumps(alert) if args.json else alert_line(alert))
            seen += 1
            if args.count and seen >= args.count:
                return 0
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("status", args.status), ("severity", args.severity), ("model_id", args.model)) if v}
    with _client(args) as client:
        body = _check(client.get("/v1/alerts", params=params))
    for alert in body["alerts"]:
        _out(json.dumps(alert) if args.json else alert_line(alert))
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    with _client(args) as client:
        alert = _check(client.post(f"/v1/alerts/{args.fingerprint}/ack", json={"by": args.by}))
    _out(alert_line(alert))
    return 0


def _silence_line(s: dict[str, Any]) -> str:
    return (
        f"{s['id']}  {s['state']:<8} {s['starts_at'][:19]} -> {s['ends_at'][:19]}  "
        f"{' '.join(s['matchers'])}  by {s['created_by']}: {s['comment']}"
    )


def cmd_silence_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "matchers": args.matcher,
        "duration_s": args.duration,
        "created_by": args.author,
        "comment": args.comment,
    }
    with _client(args) as client:
        silence = _check(client.post("/v1/silences", json=body))
    _out(silence["id"] if args.quiet else _silence_line(silence))
    return 0


def cmd_silence_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        body = _check(client.get("/v1/silences", params={"state": args.state} if args.state else {}))
    for s in body["silences"]:
        _out(json.dumps(s) if args.json else _silence_line(s))
    return 0


def cmd_silence_expire(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for silence_id in args.id:
            _out(_silence_line(_check(client.delete(f"/v1/silences/{silence_id}"))))
    return 0


def _duration(text: str) -> float:
    from mlmon_alerting.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("duration must be greater than 0")
    return seconds


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("MLMON_ALERTING_URL", DEFAULT_URL), help="alerting service URL")
    p.add_argument("--api-key", default=os.environ.get("MLMON_API_KEY"), help="API key for writes")
    p.add_argument("--timeout", type=float, default=10.0)


def _run(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except CommandError as exc:
            _err(str(exc))
            return 1
        except httpx.HTTPError as exc:
            _err(f"cannot reach the alerting service at {args.url}: {exc}")
            return 1

    return run


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``mlmon.commands`` entry point."""
    alerts = subparsers.add_parser("alerts", help="list, follow and acknowledge alerts")
    asub = alerts.add_subparsers(dest="alerts_command", required=True)
    tail = asub.add_parser("tail", help="follow the live alert stream (one line per alert event)")
    tail.add_argument("--count", type=int, default=0, help="exit after this many alerts (0: follow forever)")
    tail.add_argument("--json", action="store_true", help="print the raw AlertEvent JSON")
    tail.set_defaults(func=_run(cmd_tail))
    lst = asub.add_parser("list", help="list alerts")
    lst.add_argument("--status", choices=["pending", "firing", "resolved"])
    lst.add_argument("--severity", choices=["critical", "warning", "info"])
    lst.add_argument("--model", help="only this model_id")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_run(cmd_list))
    ack = asub.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("fingerprint")
    ack.add_argument("--by", required=True, help="who takes the alert")
    ack.set_defaults(func=_run(cmd_ack))
    for p in (tail, lst, ack):
        _common(p)

    silences = subparsers.add_parser("silences", help="add, list and expire silences")
    ssub = silences.add_subparsers(dest="silences_command", required=True)
    add = ssub.add_parser("add", help="silence alerts matching every --matcher")
    add.add_argument("--matcher", "-m", action="append", required=True, help='e.g. model_id="churn" (repeatable)')
    add.add_argument("--duration", type=_duration, default=3600.0, help="e.g. 30m, 2h (default 1h)")
    add.add_argument("--author", default=os.environ.get("USER", "cli"))
    add.add_argument("--comment", required=True)
    add.add_argument("--quiet", "-q", action="store_true", help="print only the silence id")
    add.set_defaults(func=_run(cmd_silence_add))
    sls = ssub.add_parser("list", help="list silences")
    sls.add_argument("--state", choices=["pending", "active", "expired"])
    sls.add_argument("--json", action="store_true")
    sls.set_defaults(func=_run(cmd_silence_list))
    exp = ssub.add_parser("expire", help="end silences now")
    exp.add_argument("id", nargs="+")
    exp.set_defaults(func=_run(cmd_silence_expire))
    for p in (add, sls, exp):
        _common(p)
