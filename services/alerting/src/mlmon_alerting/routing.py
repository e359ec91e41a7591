"""The route tree (Alertmanager ``dispatch/route.go``): which receivers get an alert, grouped how.

An alert enters at the root and descends into the first child whose matchers match; with
``continue: true`` on that child, later siblings are tried too. The deepest matching nodes win;
if no child matches, the node itself is the match. Unset settings inherit from the parent.

>>> from mlmon_alerting.config import RootRoute
>>> tree = build_tree(RootRoute.model_validate(
...     {"receiver": "ops", "routes": [{"matchers": ['severity="critical"'], "receiver": "pager"}]}))
>>> [r.receiver for r in tree.match({"severity": "critical"})], [r.receiver for r in tree.match({})]
(['pager'], ['ops'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlmon_alerting.config import RootRoute, Route
from mlmon_alerting.matchers import Matcher, matches_all

ALL_LABELS = "..."


@dataclass(frozen=True)
class RouteNode:
    """A route with inherited settings resolved; ``id`` is its YAML path (``route.routes[1]``)."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    routes: tuple[RouteNode, ...] = field(default=())

    def match(self, labels: Mapping[str, str]) -> list[RouteNode]:
        """The nodes ``labels`` are routed to (at least one when this node matches)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[RouteNode] = []
        for child in self.routes:
            hits = child.match(labels)
            if hits:
                found.extend(hits)
                if not child.continue_:
                    break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The ``group_by`` subset of ``labels`` that keys this route's aggregation group."""
        if self.group_by == (ALL_LABELS,):
            return dict(labels)
        return {k: labels[k] for k in self.group_by if k in labels}

    def walk(self) -> list[RouteNode]:
        out = [self]
        for child in self.routes:
            out.extend(child.walk())
        return out


def _node(route: Route, parent: RouteNode | None, path: str) -> RouteNode:
    def pick(name: str) -> object:
        value = getattr(route, name)
        return value if value is not None or parent is None else getattr(parent, name)

    node = RouteNode(
        id=path,
        receiver=str(pick("receiver")),
        matchers=tuple(route.matchers),
        continue_=route.continue_,
        group_by=tuple(pick("group_by") or ()),  # type: ignore[arg-type]
        group_wait=float(pick("group_wait") or 0.0),  # type: ignore[arg-type]
        group_interval=float(pick("group_interval")),  # type: ignore[arg-type]
        repeat_interval=float(pick("repeat_interval")),  # type: ignore[arg-type]
        mute_time_intervals=tuple(route.mute_time_intervals),
        active_time_intervals=tuple(route.active_time_intervals),
    )
    children = tuple(_node(child, node, f"{path}.routes[{i}]") for i, child in enumerate(route.routes))
    return RouteNode(**{**node.__dict__, "routes": children})


def build_tree(root: RootRoute) -> RouteNode:
    """Resolve inheritance once; matching is then a walk over frozen nodes."""
    return _node(root, None, "route")
