"""The whole alerting core wired together, still pure: events in, alert events and notifications out.

``AlertingCore.handle(event, now)`` evaluates rules, advances lifecycles, routes changed alerts
into aggregation groups (immediate severities) or digests (daily/weekly), and returns the
``AlertEvent``s for ``mlmon.alerts.v1``. ``expire(now)`` resolves stale alerts; ``tick(now)``
returns the notifications due, with silences and inhibitions applied (alerts silenced or inhibited
when they change are also left out of digests). All state is plain dicts in
``states``/``dispatcher.groups``/``digests.books``, which the lead persists (Redis) between calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mlmon_alerting.config import AlertingConfig
from mlmon_alerting.digests import DigestBook
from mlmon_alerting.grouping import Dispatcher, Notification
from mlmon_alerting.inhibit import Inhibitor
from mlmon_alerting.lifecycle import State, acknowledge, expire, observe
from mlmon_alerting.routing import build_tree
from mlmon_alerting.rules import AlertManager, RuleInput
from mlmon_alerting.silences import Silence, silenced_by
from mlmon_common.events import AlertEvent, Severity


class AlertingCore:
    def __init__(
        self,
        config: AlertingConfig,
        states: dict[str, State] | None = None,
        groups: dict[str, dict[str, Any]] | None = None,
        books: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.config = config
        self.manager = AlertManager(config.rules, config.thresholds)
        self.tree = build_tree(config.route)
        self.dispatcher = Dispatcher(self.tree, config.intervals(), groups)
        self.digests = DigestBook(config.notification_policy, books)
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self.states: dict[str, State] = states if states is not None else {}
        self.silences: list[Silence] = []

    def handle(self, event: RuleInput, now: datetime) -> list[AlertEvent]:
        """Evaluate one metrics/drift/resource event; returns the lifecycle changes it caused."""
        out = []
        for alert in self.manager.evaluate(event):
            old = self.states.get(alert.fingerprint)
            if old is None and not alert.breached:
                continue
            new, change = observe(old, alert, now)
            if new is not None:
                self.states[alert.fingerprint] = new
            if change is not None:
                out.append(change)
                self._route(new, now)
        return out

    def _route(self, state: State | None, now: datetime) -> None:
        if state is None or state["status"] == "pending" or state.get("starts_at") is None:
            return
        delivery = self.config.notification_policy.delivery(Severity(state["severity"]))
        if delivery == "immediate":
            self.dispatcher.insert(state, now)
        elif delivery != "never" and not self.muted(state["labels"], now):
            for route in self.tree.match(state["labels"]):
                self.digests.add(route.receiver, state, now)

    def acknowledge(self, fingerprint: str, by: str, now: datetime) -> AlertEvent | None:
        """Acknowledge an alert; ``KeyError`` for an unknown fingerprint, ``ValueError`` if inactive."""
        new, change = acknowledge(self.states[fingerprint], by, now)
        self.states[fingerprint] = new  # type: ignore[assignment]
        return change

    def muted(self, labels: Mapping[str, str], now: datetime, firing: list[Mapping[str, str]] | None = None) -> bool:
        """Silenced, or inhibited by another firing alert (``firing``: precomputed source labels)."""
        if silenced_by(labels, self.silences, now):
            return True
        if not self.inhibitor.rules:
            return False
        if firing is None:
            firing = self._firing()
        return self.inhibitor.inhibited(labels, firing)

    def _firing(self) -> list[Mapping[str, str]]:
        return [s["labels"] for s in self.states.values() if s["status"] == "firing"]

    def expire(self, now: datetime) -> list[AlertEvent]:
        """Resolve alerts not observed for ``resolve_timeout``."""
        out = []
        for fp, state in list(self.states.items()):
            new, change = expire(state, now, self.config.resolve_timeout)
            if change is not None and new is not None:
                self.states[fp] = new
                out.append(change)
                self._route(new, now)
        return out

    def tick(self, now: datetime) -> list[Notification]:
        """Notifications due at ``now`` (call :meth:`expire` first to resolve stale alerts)."""
        firing = self._firing()
        notes = self.dispatcher.due(now, lambda labels: self.muted(labels, now, firing))
        return notes + self.digests.due(now)

    def set_silences(self, silences: Iterable[Silence]) -> None:
        self.silences = list(silences)
