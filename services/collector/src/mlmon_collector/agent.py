"""The resource agent: ``mlmon-collector agent --service NAME [--interval S]``.

Samples the host/pod (and optionally one process, by ``--pid`` or ``--process NAME``) with
:class:`~mlmon_collector.system.SystemMetrics` every ``--interval`` seconds (default: the config's
``collector.resource_interval_s``) and publishes a ``resource`` event to ``mlmon.resources.v1``.
Host and pod names come from ``MLMON_COLLECTOR_HOST`` / ``MLMON_COLLECTOR_POD``. SIGTERM/SIGINT stop it
after flushing what is queued.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from mlmon_collector.config import CollectorConfig
from mlmon_collector.settings import CollectorSettings
from mlmon_collector.system import SystemMetrics, find_pid
from mlmon_common import topics
from mlmon_common.config import load_section
from mlmon_common.events import Identifier
from mlmon_common.kafka import EventProducer

logger = logging.getLogger(__name__)


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _service(text: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(Identifier).validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"must be 1-200 printable characters without spaces, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", required=True, type=_service, help="service name on the events")
    p.add_argument("--interval", type=_interval, help="seconds between samples (default: resource_interval_s)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--pid", type=int, help="also sample this process")
    target.add_argument("--process", help="also sample the process with this name (or command-line word)")
    p.add_argument("--model-id", help="model served by the service (default: the service name)")
    p.add_argument("--disk-path", default="/", help="file system whose usage is reported")
    p.add_argument("--count", type=int, help="stop after this many samples (default: run until stopped)")


def run(
    args: argparse.Namespace, settings: CollectorSettings | None = None, stop: threading.Event | None = None
) -> int:
    settings = settings or CollectorSettings()
    stop = stop or threading.Event()
    interval = args.interval or load_section(settings.config, "collector", CollectorConfig).resource_interval_s
    pid = args.pid if args.pid is not None else (find_pid(args.process) if args.process else None)
    if args.process and pid is None:
        logger.warning("process not found; sampling the host only", extra={"process": args.process})
    sampler = SystemMetrics(
        host=settings.collector.host,
        pod=settings.collector.pod,
        model_id=args.model_id,
        pid=pid,
        disk_path=args.disk_path,
    )
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    producer = EventProducer(settings.kafka, client_id=f"mlmon-agent-{args.service}")
    logger.info("resource agent started", extra={"service": args.service, "interval_s": interval, "pid": pid})
    sent = 0
    try:
        while not stop.is_set():
            event = sampler.collect_metrics(args.service)
            producer.send(topics.RESOURCES.name, event)
            sent += 1
            if args.count is not None and sent >= args.count:
                break
            stop.wait(interval)
    finally:
        producer.close()
        logger.info("resource agent stopped", extra={"samples": sent})
    return 0
