"""``mlmon simulate`` / ``python -m mlmon_collector simulate``: the simulated fleet, published for real.

Runs a scenario (:mod:`mlmon_collector.simulate`) at wall-clock pace (``--speed``) and publishes every
event through :class:`mlmon_sdk.Monitor`, one per model, exactly as a model server would (raw topics).
``--register`` first registers the scenario's models in the collector's Redis model catalog (what
``mlmon up`` does, so the collector checks their schemas); ``--loop`` repeats the scenario forever, each
round with a new run id so prediction ids never collide. SIGTERM/SIGINT stop it after flushing.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections import Counter
from datetime import datetime

from mlmon_collector.model_store import ConfigDefinedError, ModelCatalog
from mlmon_collector.settings import CollectorSettings
from mlmon_collector.simulate import (
    SimEvent,
    SimulateOptions,
    add_arguments as add_scenario_arguments,
    options as scenario_options,
    simulate,
    wall_delay,
)
from mlmon_common.errors import RetryableError
from mlmon_common.events import PredictionEvent, utcnow
from mlmon_common.settings import KafkaSettings
from mlmon_common.store import connect
from mlmon_sdk import Monitor

logger = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scenario_arguments(p)
    p.add_argument("--loop", action="store_true", help="repeat the scenario until stopped")
    p.add_argument("--register", action="store_true", help="register the scenario's models with the collector")


def register_models(opts: SimulateOptions, settings: CollectorSettings) -> int:
    """Put the scenario's registry entries in the model catalog; returns how many (Redis errors: 0)."""
    client = connect(settings.redis)
    catalog = ModelCatalog(client, settings.redis.key_prefix)
    done = 0
    try:
        for model in opts.scenario.models:
            try:
                catalog.put(model.registry_entry())
                done += 1
            except ConfigDefinedError:
                continue
    except RetryableError as exc:  # Redis unreachable: the simulation still runs, unchecked
        logger.warning("cannot register the simulated models", extra={"error": str(exc)})
    finally:
        client.close()
    return done


def _send(monitors: dict[str, Monitor], event: SimEvent) -> None:
    monitor = monitors[event.model_id]
    if isinstance(event, PredictionEvent):
        monitor.log_prediction(
            event.features,
            event.prediction,
            event.score,
            event.latency_ms,
            event.prediction_id,
            error=event.error,
            occurred_at=event.occurred_at,
        )
    else:
        monitor.log_label(event.prediction_id, event.label, occurred_at=event.occurred_at)


def publish(
    opts: SimulateOptions, kafka: KafkaSettings, *, loop: bool = False, stop: threading.Event | None = None
) -> Counter[str]:
    """Run the fleet into the raw topics; returns event counts by type."""
    stop = stop or threading.Event()
    base = opts.scenario
    monitors = {m.model_id: Monitor(m.model_id, m.model_version, kafka=kafka) for m in base.models}
    counts: Counter[str] = Counter()
    round_no = 0
    try:
        while not stop.is_set():
            start: datetime = base.start if base.start is not None and opts.speed == 0 else utcnow()
            run_id = f"{base.run_id or 's' + str(base.seed)}r{round_no}" if loop else base.run_id
            scenario = base.model_copy(update={"start": start, "run_id": run_id})
            wall0 = time.monotonic()
            for due, event in simulate(scenario):
                delay = wall_delay(due, start, time.monotonic() - wall0, opts.speed)
                if delay and stop.wait(delay):
                    break
                _send(monitors, event)
                counts[event.event_type] += 1
                if opts.limit is not None and sum(counts.values()) >= opts.limit:
                    stop.set()
                    break
            logger.info("simulation round finished", extra={"round": round_no, "events": dict(counts)})
            if not loop:
                break
            round_no += 1
    finally:
        for monitor in monitors.values():
            monitor.close()
    return counts


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, settings: CollectorSettings | None = None) -> int:
    opts = scenario_options(args, parser)
    settings = settings or CollectorSettings()
    if args.register:
        logger.info("registered simulated models", extra={"models": register_models(opts, settings)})
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    counts = publish(opts, settings.kafka, loop=args.loop, stop=stop)
    logger.info("simulation stopped", extra={"events": dict(counts)})
    return 0
