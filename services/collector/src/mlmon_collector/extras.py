"""Background processes ``mlmon up`` starts next to the services (entry point group ``mlmon.extras``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    name: str
    argv: tuple[str, ...]


#: The default 3-model fleet, its models registered, repeated until ``mlmon up`` stops.
SIMULATOR = Extra("simulator", ("-m", "mlmon_collector", "simulate", "--register", "--loop"))
#: Host resources of the machine running the stack.
RESOURCE_AGENT = Extra("resource-agent", ("-m", "mlmon_collector", "agent", "--service", "mlmon-local"))
