"""Aggregation groups and their timers (Alertmanager ``dispatch/dispatch.go`` + the dedup stage).

Alerts routed to the same route with the same ``group_by`` values share a group. A new group
flushes ``group_wait`` after its first alert, then every ``group_interval``. A flush notifies when
the set of firing alerts changed (a new one fires, or one notified as firing resolved), or when
``repeat_interval`` passed since the last notification with alerts still firing. Resolved alerts
leave the group after the flush that reported them; an empty group is dropped.

Everything is a pure function of the injected ``now``: :meth:`Dispatcher.due` returns the
notifications to send. Group state is plain dicts (``Dispatcher.groups``), stored by the lead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from mlmon_alerting.fingerprint import group_fingerprint
from mlmon_alerting.lifecycle import State, was_fired
from mlmon_alerting.mute import TimeInterval, active
from mlmon_alerting.notify.outbox import idempotency_key
from mlmon_alerting.routing import RouteNode

Labels = Mapping[str, str]
Group = dict[str, Any]


def _never(labels: Labels) -> bool:
    return False


@dataclass(frozen=True)
class Notification:
    """One message for one receiver: the alerts of one group at one flush."""

    receiver: str
    route_id: str
    group_key: str
    group_labels: dict[str, str]
    status: Literal["firing", "resolved"]
    alerts: list[State]
    created_at: datetime
    idempotency_key: str
    kind: Literal["alert", "digest"] = "alert"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def firing(self) -> list[State]:
        return [a for a in self.alerts if a["status"] == "firing"]

    @property
    def resolved(self) -> list[State]:
        return [a for a in self.alerts if a["status"] == "resolved"]


class Dispatcher:
    """Routes notifiable alert states into groups; ``due(now)`` flushes the groups whose timer passed."""

    def __init__(
        self,
        tree: RouteNode,
        intervals: Mapping[str, list[TimeInterval]] | None = None,
        groups: dict[str, Group] | None = None,
    ) -> None:
        self.tree = tree
        self.routes = {node.id: node for node in tree.walk()}
        self.intervals = dict(intervals or {})
        self.groups: dict[str, Group] = groups if groups is not None else {}
        #: keys of groups created, changed or deleted since the lead last persisted them
        self.dirty: set[str] = set()

    def insert(self, state: State, now: datetime) -> list[str]:
        """Add or update an alert in every group its labels route to; returns the group keys.

        Only alerts that fired are notified (pending ones, and resolved ones that never fired, are not).
        """
        if not was_fired(state) or state["status"] == "pending":
            return []
        keys = []
        for route in self.tree.match(state["labels"]):
            labels = route.group_labels(state["labels"])
            key = group_fingerprint(route.id, labels)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _new_group(key, route, labels, now)
            group["alerts"][state["fingerprint"]] = dict(state)
            keys.append(key)
            self.dirty.add(key)
        return keys

    def due(self, now: datetime, muted: Callable[[Labels], bool] = _never) -> list[Notification]:
        """Flush every group whose timer passed; ``muted`` says if silences/inhibitions hide an alert."""
        out = []
        for key in sorted(self.groups):
            group = self.groups[key]
            if datetime.fromisoformat(group["next_flush"]) > now:
                continue
            route = self.routes[group["route_id"]]
            self.dirty.add(key)
            group["next_flush"] = (now + timedelta(seconds=route.group_interval)).isoformat()
            note = None if self._route_muted(route, now) else _flush(group, route, now, muted)
            if note is not None:
                out.append(note)
            if not group["alerts"]:
                del self.groups[key]
        return out

    def next_wakeup(self) -> datetime | None:
        """The earliest time ``due`` may return something (the lead sleeps until then)."""
        times = [datetime.fromisoformat(g["next_flush"]) for g in self.groups.values()]
        return min(times, default=None)

    def _route_muted(self, route: RouteNode, now: datetime) -> bool:
        def hit(names: tuple[str, ...]) -> bool:
            return active((i for n in names for i in self.intervals.get(n, [])), now)

        if route.mute_time_intervals and hit(route.mute_time_intervals):
            return True
        return bool(route.active_time_intervals) and not hit(route.active_time_intervals)


def _new_group(key: str, route: RouteNode, labels: dict[str, str], now: datetime) -> Group:
    return {
        "key": key,
        "route_id": route.id,
        "receiver": route.receiver,
        "labels": labels,
        "created_at": now.isoformat(),
        "next_flush": (now + timedelta(seconds=route.group_wait)).isoformat(),
        "alerts": {},
        "sent_firing": [],
        "last_notified_at": None,
        "repeats": 0,
    }


def _needs_update(group: Group, firing: set[str], resolved: set[str], route: RouteNode, now: datetime) -> bool:
    previous = set(group["sent_firing"])
    if not firing <= previous or resolved & previous:
        return True
    if not firing or group["last_notified_at"] is None:
        return False
    last = datetime.fromisoformat(group["last_notified_at"])
    if now - last >= timedelta(seconds=route.repeat_interval):
        group["repeats"] += 1
        return True
    return False


def _flush(group: Group, route: RouteNode, now: datetime, muted: Callable[[Labels], bool]) -> Notification | None:
    alerts: dict[str, State] = group["alerts"]
    firing = {fp for fp, a in alerts.items() if a["status"] == "firing" and not muted(a["labels"])}
    resolved = {fp for fp, a in alerts.items() if a["status"] == "resolved"}
    notify_resolved = resolved & set(group["sent_firing"])
    note = None
    if _needs_update(group, firing, notify_resolved, route, now):
        chosen = sorted(
            (alerts[fp] for fp in firing | notify_resolved), key=lambda a: (a["alertname"], a["fingerprint"])
        )
        status: Literal["firing", "resolved"] = "firing" if firing else "resolved"
        key = idempotency_key(group["key"], chosen, status, epoch=group["repeats"])
        note = Notification(route.receiver, route.id, group["key"], dict(group["labels"]), status, chosen, now, key)
        group["sent_firing"] = sorted(firing)
        group["last_notified_at"] = now.isoformat()
    for fp in resolved:
        del alerts[fp]
    return note
