"""The alerting section of the mlmon config: rules, thresholds, routes, inhibitions, receivers.

One YAML file, validated once at start-up (:func:`load_config`). Every problem is reported as a
:class:`ConfigError` naming the file, the YAML path (``route.routes[2].matchers[0]``) and the problem.
Secrets may be written as ``${ENV_VAR}`` and are resolved from the environment at load time.

>>> cfg = parse_config("route: {receiver: ops}\\nreceivers: [{name: ops}]")
>>> cfg.thresholds.defaults.accuracy_min, cfg.route.group_wait
(0.95, 30.0)
>>> parse_config("route: {receiver: ops}\\nreceivers: [{name: oops}]", source="a.yml")
Traceback (most recent call last):
...
mlmon_alerting.config.ConfigError: a.yml: route.receiver: unknown receiver 'ops'; defined: ['oops']
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from mlmon_alerting.matchers import Matcher
from mlmon_alerting.mute import WEEKDAYS, NamedTimeInterval, TimeInterval
from mlmon_alerting.receivers import (
    AlertmanagerConfig,
    EmailConfig,
    PagerDutyConfig,
    Receiver,
    SlackConfig,
    WebhookConfig,
)
from mlmon_alerting.schema import Duration, LabelName, MatcherField, StrictModel
from mlmon_alerting.thresholds import (
    DEFAULT_RULES,
    AlertType,
    RuleConfig,
    RulesField,
    ThresholdName,
    ThresholdOverrides,
    Thresholds,
    ThresholdsConfig,
)
from mlmon_common.errors import ConfigError as CommonConfigError
from mlmon_common.events import Severity

__all__ = [
    "DEFAULT_RULES",
    "AlertType",
    "AlertingConfig",
    "AlertmanagerConfig",
    "ConfigError",
    "EmailConfig",
    "InhibitRule",
    "NamedTimeInterval",
    "NotificationPolicy",
    "PagerDutyConfig",
    "Receiver",
    "RootRoute",
    "Route",
    "RuleConfig",
    "RulesField",
    "SlackConfig",
    "ThresholdName",
    "ThresholdOverrides",
    "Thresholds",
    "ThresholdsConfig",
    "WebhookConfig",
    "load_config",
    "parse_config",
]

Delivery = Literal["immediate", "daily", "weekly", "never"]
#: Sections of the other services in the shared mlmon config file.
OTHER_SECTIONS = frozenset({"collector", "drift", "maintenance", "reporting"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(CommonConfigError, ValueError):
    """An invalid config file; ``str()`` lists ``file: path: problem`` lines."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {path}: {problem}" for path, problem in problems))


# --- routing ----------------------------------------------------------------------------------------


class Route(StrictModel):
    """A node of the route tree (Alertmanager ``dispatch/route.go``); unset timers inherit."""

    receiver: str | None = None
    matchers: list[MatcherField] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str] | None) -> list[str] | None:
        if v is None or v == ["..."]:
            return v
        for name in v:
            if name == "..." or not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", name):
                raise ValueError(f"invalid group_by label {name!r}; use label names, or ['...'] alone")
        return v

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than 0s")
        return v


class RootRoute(Route):
    receiver: str
    group_by: list[str] | None = Field(default_factory=lambda: ["alertname", "model_id"])
    group_wait: Duration | None = 30.0
    group_interval: Duration | None = 300.0
    repeat_interval: Duration | None = 14400.0

    @field_validator("matchers")
    @classmethod
    def _no_matchers(cls, v: list[Matcher]) -> list[Matcher]:
        if v:
            raise ValueError("the root route must not have matchers (it matches every alert)")
        return v


class InhibitRule(StrictModel):
    """Mute targets while a source alert fires, if the ``equal`` labels agree (``inhibit/inhibit.go``)."""

    source_matchers: Annotated[list[MatcherField], Field(min_length=1)]
    target_matchers: Annotated[list[MatcherField], Field(min_length=1)]
    equal: list[LabelName] = Field(default_factory=list)


class NotificationPolicy(StrictModel):
    """The seed's ALERT_CONFIG: how each severity is delivered; digests go out at ``digest_time`` UTC."""

    critical: Delivery = "immediate"
    warning: Delivery = "daily"
    info: Delivery = "weekly"
    digest_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    digest_weekday: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]

    def delivery(self, severity: Severity) -> Delivery:
        return {Severity.CRITICAL: self.critical, Severity.WARNING: self.warning}.get(severity, self.info)


class AlertingConfig(StrictModel):
    thresholds: ThresholdsConfig = ThresholdsConfig()
    rules: RulesField = Field(default=None, validate_default=True)
    resolve_timeout: Duration = Field(300.0, description="resolve an alert not observed for this long")
    route: RootRoute
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    receivers: Annotated[list[Receiver], Field(min_length=1)]
    notification_policy: NotificationPolicy = NotificationPolicy()

    def receiver(self, name: str) -> Receiver:
        return next(r for r in self.receivers if r.name == name)

    def intervals(self) -> dict[str, list[TimeInterval]]:
        return {t.name: [spec.build() for spec in t.time_intervals] for t in self.time_intervals}


# --- loading ----------------------------------------------------------------------------------------


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif part.startswith(("function-", "lax-", "json-", "constrained-")):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(root)"


def _resolve_env(
    node: Any, env: Mapping[str, str], path: str, problems: list[tuple[str, str]], seen: frozenset[int] = frozenset()
) -> Any:
    if isinstance(node, dict | list):
        if id(node) in seen:  # a YAML anchor that contains itself
            raise ConfigError("(config)", [(path or "(root)", "a YAML alias refers to itself (cyclic anchor)")])
        seen = seen | {id(node)}
    if isinstance(node, dict):
        return {k: _resolve_env(v, env, f"{path}.{k}" if path else str(k), problems, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_env(v, env, f"{path}[{i}]", problems, seen) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def sub(m: re.Match[str]) -> str:
            if m[1] not in env:
                problems.append((path or "(root)", f"environment variable {m[1]} is not set"))
                return ""
            return env[m[1]]

        return _ENV_REF.sub(sub, node)
    return node


def _walk_routes(route: Route, path: str) -> Iterator[tuple[str, Route]]:
    yield path, route
    for i, child in enumerate(route.routes):
        yield from _walk_routes(child, f"{path}.routes[{i}]")


def _cross_check(cfg: AlertingConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    names = [r.name for r in cfg.receivers]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append((f"receivers[{i}].name", f"duplicate receiver name {name!r}"))
    intervals = [t.name for t in cfg.time_intervals]
    for i, name in enumerate(intervals):
        if name in intervals[:i]:
            problems.append((f"time_intervals[{i}].name", f"duplicate time interval name {name!r}"))
    for path, route in _walk_routes(cfg.route, "route"):
        if route.receiver is not None and route.receiver not in names:
            problems.append((f"{path}.receiver", f"unknown receiver {route.receiver!r}; defined: {names}"))
        for field in ("mute_time_intervals", "active_time_intervals"):
            for j, ref in enumerate(getattr(route, field)):
                if ref not in intervals:
                    problems.append((f"{path}.{field}[{j}]", f"unknown time interval {ref!r}; defined: {intervals}"))
    return problems


def parse_config(text: str, source: str = "<string>", env: Mapping[str, str] | None = None) -> AlertingConfig:
    """Validate YAML text; ``source`` names the file in error messages, ``env`` resolves ``${VAR}``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(root)"
        raise ConfigError(source, [(where, f"invalid YAML: {getattr(exc, 'problem', None) or exc}")]) from None
    except RecursionError:
        raise ConfigError(source, [("(root)", "invalid YAML: nested too deeply")]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, [("(root)", f"expected a mapping, got {type(raw).__name__}")])
    others = sorted(OTHER_SECTIONS & raw.keys())
    if "alerting" not in raw and others:
        raise ConfigError(
            source,
            [("alerting", f"missing: the file has sections {others} but no alerting: section "
                          "(see services/alerting/config.example.yml)")],
        )  # fmt: skip
    section = raw.get("alerting", raw) or {}
    prefix = "alerting." if "alerting" in raw else ""
    problems: list[tuple[str, str]] = []
    try:
        section = _resolve_env(section, os.environ if env is None else env, prefix.rstrip("."), problems)
    except ConfigError as exc:
        raise ConfigError(source, exc.problems) from None
    if problems:
        raise ConfigError(source, problems)
    try:
        cfg = AlertingConfig.model_validate(section)
    except ValidationError as exc:
        errs = [(prefix + _format_loc(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        raise ConfigError(source, errs) from None
    problems = [(prefix + p, m) for p, m in _cross_check(cfg)]
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> AlertingConfig:
    """Read and validate the file at ``path`` (the lead passes ``$MLMON_CONFIG``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [("(file)", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), [("(file)", f"not UTF-8 text (byte {exc.start})")]) from None
    return parse_config(text, source=str(p), env=env)
