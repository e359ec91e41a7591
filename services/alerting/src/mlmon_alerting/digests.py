"""Digests: warning alerts in a daily message, info alerts in a weekly one (the seed's ALERT_CONFIG).

Each (receiver, period) collects the alerts routed to it since the last digest, with first/last
seen, how many times each fired and its latest status. :meth:`DigestBook.due` returns one
notification per collection whose boundary (``digest_time`` UTC, weekly on ``digest_weekday``)
passed. State is plain dicts, like the dispatcher's.

>>> from datetime import datetime, UTC
>>> next_boundary("daily", datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "09:00", "monday")
datetime.datetime(2026, 11, 28, 9, 0, tzinfo=datetime.timezone.utc)
>>> next_boundary("weekly", datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "09:00", "monday")
datetime.datetime(2026, 11, 30, 9, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mlmon_alerting.config import NotificationPolicy
from mlmon_alerting.grouping import Notification
from mlmon_alerting.lifecycle import State
from mlmon_alerting.mute import WEEKDAYS
from mlmon_alerting.notify.outbox import idempotency_key
from mlmon_common.events import Severity

Period = Literal["daily", "weekly"]


def next_boundary(period: Period, after: datetime, digest_time: str, weekday: str) -> datetime:
    """The first digest time strictly after ``after``."""
    hh, mm = (int(x) for x in digest_time.split(":"))
    t = after.astimezone(UTC).replace(hour=hh, minute=mm, second=0, microsecond=0)
    if t <= after:
        t += timedelta(days=1)
    if period == "weekly":
        t += timedelta(days=(WEEKDAYS.index(weekday) - t.weekday()) % 7)
    return t


class DigestBook:
    """Collects non-immediate alerts per (receiver, period) and renders them when due."""

    def __init__(self, policy: NotificationPolicy, books: dict[str, dict[str, Any]] | None = None) -> None:
        self.policy = policy
        self.books: dict[str, dict[str, Any]] = books if books is not None else {}
        #: keys of books created, changed or deleted since the lead last persisted them
        self.dirty: set[str] = set()

    def add(self, receiver: str, state: State, now: datetime) -> bool:
        """Record a fired or resolved alert for ``receiver``; False when its severity is not digested."""
        period = self.policy.delivery(Severity(state["severity"]))
        if period not in ("daily", "weekly") or state.get("starts_at") is None:
            return False
        key = f"{receiver}|{period}"
        book = self.books.setdefault(key, self._new_book(receiver, period, now))
        self.dirty.add(key)
        entry = book["alerts"].setdefault(state["fingerprint"], _new_entry(state, now))
        if state["starts_at"] not in entry["fired"]:
            entry["fired"].append(state["starts_at"])
        entry.update(
            status=state["status"],
            ends_at=state.get("ends_at"),
            value=state.get("value"),
            last_seen=now.isoformat(),
            count=len(entry["fired"]),
        )
        if state.get("annotations"):
            entry["annotations"] = dict(state["annotations"])
        return True

    def _new_book(self, receiver: str, period: Period, now: datetime) -> dict[str, Any]:
        due = next_boundary(period, now, self.policy.digest_time, self.policy.digest_weekday)
        return {"receiver": receiver, "period": period, "since": now.isoformat(), "due": due.isoformat(), "alerts": {}}

    def due(self, now: datetime) -> list[Notification]:
        """One digest notification per book whose boundary passed; those books are emptied."""
        out = []
        for key in sorted(self.books):
            book = self.books[key]
            if datetime.fromisoformat(book["due"]) > now:
                continue
            del self.books[key]
            self.dirty.add(key)
            if book["alerts"]:
                out.append(render_digest(book, now))
        return out

    def next_wakeup(self) -> datetime | None:
        return min((datetime.fromisoformat(b["due"]) for b in self.books.values()), default=None)


def _new_entry(state: State, now: datetime) -> dict[str, Any]:
    return {
        "fingerprint": state["fingerprint"],
        "alertname": state["alertname"],
        "severity": state["severity"],
        "labels": dict(state["labels"]),
        "annotations": dict(state.get("annotations") or {}),
        "status": state["status"],
        "starts_at": state["starts_at"],
        "ends_at": None,
        "first_seen": now.isoformat(),
        "last_seen": now.isoformat(),
        "fired": [],
        "count": 0,
        "value": state.get("value"),
    }


def _line(e: dict[str, Any]) -> str:
    what = e["annotations"].get("summary") or f"{e['alertname']} {e['labels'].get('model_id', '')}"
    times = "time" if e["count"] == 1 else "times"
    return (
        f"- [{e['status']}] {what}: fired {e['count']} {times}, "
        f"first seen {e['first_seen']}, last seen {e['last_seen']}"
    )


def render_digest(book: dict[str, Any], now: datetime) -> Notification:
    """The digest as one notification (``kind="digest"``): title, text and the entries as alerts."""
    entries = sorted(book["alerts"].values(), key=lambda e: (e["severity"], e["alertname"], e["fingerprint"]))
    firing = sum(e["status"] == "firing" for e in entries)
    title = (
        f"mlmon {book['period']} digest for {book['receiver']}: {len(entries)} alerts "
        f"({firing} still firing) since {book['since'][:16]}"
    )
    text = "\n".join([title, "", *(_line(e) for e in entries)])
    group_key = f"digest:{book['receiver']}:{book['period']}:{book['since']}"
    return Notification(
        receiver=book["receiver"],
        route_id="digest",
        group_key=group_key,
        group_labels={"digest": book["period"]},
        status="firing" if firing else "resolved",
        alerts=entries,
        created_at=now,
        idempotency_key=idempotency_key(group_key, entries, "digest"),
        kind="digest",
        extra={"title": title, "text": text},
    )
