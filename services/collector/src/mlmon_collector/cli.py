"""Command-line entry points of the collector package.

``mlmon simulate ...`` (entry point group ``mlmon.commands``) and ``python -m mlmon_collector
simulate|agent|serve ...`` share these parsers.
"""

from __future__ import annotations

import argparse
from typing import Any

from mlmon_collector import agent, fleet


def add_simulate(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="publish a simulated model fleet (predictions, delayed labels, incidents)"
    )
    fleet.add_arguments(p)
    p.set_defaults(func=lambda args: fleet.run(args, p))


def add_agent(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="publish resource samples (CPU, memory, disk, network) at an interval"
    )
    agent.add_arguments(p)
    p.set_defaults(func=agent.run)


def register(subparsers: Any) -> None:
    """``mlmon.commands`` hook: adds ``mlmon simulate``."""
    add_simulate(subparsers)
