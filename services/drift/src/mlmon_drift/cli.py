"""``mlmon evaluate``: the quality harness (entry point group ``mlmon.commands``)."""

from __future__ import annotations

import argparse


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mlmon_drift.evaluate import main

    argv = (["--quick"] if args.quick else []) + (["--out", args.out] if args.out else [])
    return main(argv)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "evaluate", help="drift quality harness: seeded scenarios through the live detector configuration"
    )
    p.add_argument("--quick", action="store_true", help="small run (seconds)")
    p.add_argument("--out", help="write the markdown table to this file")
    p.set_defaults(func=cmd_evaluate)
