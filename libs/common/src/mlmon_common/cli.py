"""``mlmon``: the operator's command line.

Built-in commands::

    mlmon up                 local broker + Redis + every installed service (+ the simulated fleet, when installed)
    mlmon infra up|down|status
    mlmon topics create      create every registry topic that is missing
    mlmon schemas export [--check] [--dir schemas]

Installed packages add commands through the ``mlmon.commands`` entry-point group
(a callable ``register(subparsers)``), e.g. ``mlmon simulate`` from the collector.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from mlmon_common import logging as mlmon_logging

logger = logging.getLogger("mlmon")
Command = Callable[[argparse.Namespace], int]


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def cmd_schemas(args: argparse.Namespace) -> int:
    from mlmon_common.events import json_schemas

    target = Path(args.dir)
    stale: list[str] = []
    for name, schema in json_schemas().items():
        path = target / f"{name}.v1.json"
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            target.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            _out(f"wrote {path}")
    if stale:
        _out("out of date (run `mlmon schemas export`): " + ", ".join(stale))
        return 1
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from mlmon_common import topics
    from mlmon_common.kafka import ensure_topics, wait_for_broker
    from mlmon_common.settings import ServiceSettings

    kafka = ServiceSettings().kafka
    wait_for_broker(kafka, timeout_s=args.timeout)
    created = ensure_topics(kafka, topics.ALL)
    _out(f"created {len(created)} topic(s): {', '.join(created) or '-'}")
    return 0


def cmd_infra(args: argparse.Namespace) -> int:
    from mlmon_common.devstack import DevStack

    stack = DevStack(Path(args.run_dir), args.kafka_port, args.redis_port)
    if args.action == "up":
        ep = stack.up(os.environ.get("MLMON_KAFKA_BOOTSTRAP"), os.environ.get("MLMON_REDIS_URL"))
        _out(f"kafka  {ep.kafka_bootstrap}\nredis  {ep.redis_url}\nstate  {stack.state_file}")
    elif args.action == "down":
        stack.down()
        _out("stopped")
    else:
        current = stack.status()
        _out(json.dumps(current.__dict__ if current else None, indent=2))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from mlmon_common.supervisor import run_stack

    return run_stack(
        run_dir=Path(args.run_dir),
        kafka_port=args.kafka_port,
        redis_port=args.redis_port,
        only=args.only,
        with_extras=not args.no_sim,
        duration_s=args.duration,
        port_base=args.port_base,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlmon", description="mlmon: Kafka-native monitoring for ML models")
    sub = parser.add_subparsers(dest="command", required=True)

    def infra_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--run-dir", default=os.environ.get("MLMON_RUN_DIR", ".run"))
        p.add_argument("--kafka-port", type=int, default=19092)
        p.add_argument("--redis-port", type=int, default=6399)

    up = sub.add_parser("up", help="run the embedded stack: broker, Redis, every service, simulated fleet")
    infra_opts(up)
    up.add_argument("--only", nargs="*", help="start only these services")
    up.add_argument("--no-sim", action="store_true", help="do not start the simulated fleet and resource agent")
    up.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    up.add_argument("--port-base", type=int, default=8000, help="HTTP ports: reporting at N, collector N+1, ...")
    up.set_defaults(func=cmd_up)

    infra = sub.add_parser("infra", help="start/stop the local broker and Redis only")
    infra.add_argument("action", choices=["up", "down", "status"])
    infra_opts(infra)
    infra.set_defaults(func=cmd_infra)

    top = sub.add_parser("topics", help="topic administration")
    top.add_argument("action", choices=["create"])
    top.add_argument("--timeout", type=float, default=30.0)
    top.set_defaults(func=cmd_topics)

    sch = sub.add_parser("schemas", help="JSON Schema of every event type")
    sch.add_argument("action", choices=["export"])
    sch.add_argument("--dir", default="schemas")
    sch.add_argument("--check", action="store_true", help="fail if the files differ from the code")
    sch.set_defaults(func=cmd_schemas)

    for ep in entry_points(group="mlmon.commands"):
        try:
            ep.load()(sub)
        except Exception:  # a broken plugin must not take the whole CLI down
            logger.exception("could not load mlmon command", extra={"entry_point": ep.name})
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    mlmon_logging.configure("mlmon-cli", os.environ.get("MLMON_LOG_LEVEL", "WARNING").upper())
    args = build_parser().parse_args(argv)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
