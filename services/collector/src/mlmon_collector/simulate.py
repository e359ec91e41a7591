"""A seeded simulated model fleet: a pure generator of ``(due_time, event)`` pairs.

Each model emits predictions at Poisson arrival times; each prediction may get a label later
(exponential delay), early (before the prediction), twice, or never. Scripted incidents
(:mod:`mlmon_collector.scenario`) change features, the true concept, latencies or error rates.
Events come out ordered by due time; ``occurred_at`` of every event is its due time. Everything,
event ids included, is a function of the scenario and its seed.

>>> from datetime import UTC, datetime
>>> s = default_scenario(duration_s=2, start=datetime(2026, 1, 1, tzinfo=UTC))
>>> events = list(simulate(s))
>>> events == list(simulate(s)), events[0][1].event_type
(True, 'prediction')
"""

from __future__ import annotations

import argparse
import heapq
import logging
import math
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from mlmon_collector.scenario import (
    CategoricalFeature,
    Incident,
    ModelSim,
    NumericFeature,
    Scenario,
    default_scenario,
    load_scenario,
)
from mlmon_common.events import LabelEvent, PredictionEvent, utcnow

logger = logging.getLogger(__name__)
SimEvent = PredictionEvent | LabelEvent
EARLY_LABEL_MAX_S = 5.0
#: Defaults of ``--scenario``/``--speed`` (so ``mlmon up``, which starts ``simulate`` itself, can run a scripted fleet).
SCENARIO_ENV = "MLMON_COLLECTOR_SIMULATE_SCENARIO"
SPEED_ENV = "MLMON_COLLECTOR_SIMULATE_SPEED"


def _event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class _ModelRun:
    """The evolving state of one simulated model."""

    sim: ModelSim
    incidents: list[Incident]
    rng: random.Random
    run_id: str
    index: int = 0
    active: list[Incident] = field(default_factory=list)

    def _numeric(self, f: NumericFeature, t: float) -> float:
        mean, std = f.mean, f.std
        for inc in self.active:
            if inc.feature == f.name and inc.kind == "mean_shift":
                mean += inc.shift
            elif inc.feature == f.name and inc.kind == "variance_change":
                std *= inc.factor
        season = f.seasonality_amplitude * math.sin(2 * math.pi * t / f.seasonality_period_s)
        x = self.rng.gauss(mean + season, std)
        x = max(x, f.min) if f.min is not None else x
        x = min(x, f.max) if f.max is not None else x
        return round(x, f.decimals) if f.decimals else float(round(x))

    def _categorical(self, f: CategoricalFeature) -> str:
        weights = f.weights
        for inc in self.active:
            if inc.kind == "category_shift" and inc.feature == f.name:
                weights = inc.weights
        return self.rng.choices(f.categories, weights=weights)[0]

    def features(self, t: float) -> dict[str, float | str]:
        return {
            f.name: self._numeric(f, t) if isinstance(f, NumericFeature) else self._categorical(f)
            for f in self.sim.features
        }

    def latent(self, x: dict[str, float | str], coefficients: dict[str, float]) -> float:
        total = self.sim.intercept
        for name, value in x.items():
            key = f"{name}={value}" if isinstance(value, str) else name
            weight = coefficients.get(key, 0.0)
            total += weight if isinstance(value, str) else weight * value
        return total

    def true_coefficients(self) -> dict[str, float]:
        for inc in self.active:
            if inc.kind == "concept_drift":
                return inc.coefficients or {k: -v for k, v in self.sim.coefficients.items()}
        return self.sim.coefficients

    def _factor(self, kind: str, attr: str, default: float) -> float:
        return next((float(getattr(i, attr)) for i in self.active if i.kind == kind), default)

    def step(self, t: float) -> tuple[dict[str, object], object]:
        """One prediction's fields (without envelope) and the true label/target."""
        self.active = [i for i in self.incidents if i.active(t, self.index)]
        x = self.features(t)
        model_latent = self.latent(x, self.sim.coefficients)
        truth = self.latent(x, self.true_coefficients()) + self.rng.gauss(0, self.sim.noise_std)
        latency = self.sim.latency_ms_median * math.exp(self.rng.gauss(0, self.sim.latency_sigma))
        latency *= self._factor("latency_spike", "factor", 1.0)
        failed = self.rng.random() < self._factor("error_burst", "error_rate", self.sim.error_rate)
        fields: dict[str, object] = {"features": x, "latency_ms": round(latency, 3)}
        if failed:
            fields["error"] = "simulated model error"
        elif self.sim.task == "classification":
            score = 1 / (1 + math.exp(-model_latent))
            fields.update(prediction=int(score >= 0.5), score=round(score, 4))
        else:
            fields["prediction"] = round(model_latent, 3)
        label: object = int(truth > 0) if self.sim.task == "classification" else round(truth, 3)
        self.index += 1
        return fields, label

    def label_times(self, t: float, now: float) -> list[float]:
        """Due times (seconds) of this prediction's labels: none, one, or a duplicate pair."""
        sim, rng = self.sim, self.rng
        if rng.random() < sim.label_missing_rate:
            return []
        if rng.random() < sim.label_early_rate:
            due = max(now, t - rng.uniform(0, EARLY_LABEL_MAX_S))
        else:
            due = t + rng.expovariate(1 / sim.label_delay_s_mean) if sim.label_delay_s_mean else t
        if rng.random() < sim.label_duplicate_rate:
            return [due, due + rng.expovariate(1 / max(sim.label_delay_s_mean, 1.0))]
        return [due]


def _runs(scenario: Scenario) -> list[_ModelRun]:
    return [
        _ModelRun(
            sim=m,
            incidents=[i for i in scenario.incidents if i.model_id == m.model_id],
            rng=random.Random(f"{scenario.seed}:{m.model_id}"),
            run_id=scenario.run_id or f"s{scenario.seed}",
        )
        for m in scenario.models
    ]


def _prediction_events(run: _ModelRun, t: float, now: float, start: datetime) -> list[tuple[float, SimEvent]]:
    fields, label = run.step(t)
    pid = f"{run.sim.model_id}-{run.run_id}-{run.index - 1:08d}"
    common = {"model_id": run.sim.model_id, "prediction_id": pid}
    pred = PredictionEvent.model_validate(
        {
            **common,
            **fields,
            "event_id": _event_id(run.rng),
            "occurred_at": start + timedelta(seconds=t),
            "model_version": run.sim.model_version,
        }
    )
    out: list[tuple[float, SimEvent]] = [(t, pred)]
    for due in run.label_times(t, now):
        ev = LabelEvent.model_validate(
            {**common, "label": label, "event_id": _event_id(run.rng), "occurred_at": start + timedelta(seconds=due)}
        )
        out.append((due, ev))
    return out


def simulate(scenario: Scenario, *, now: datetime | None = None) -> Iterator[tuple[datetime, SimEvent]]:
    """Yield ``(due_time, event)`` in due-time order; predictions stop at ``duration_s``, labels
    still pending then are yielded after. ``now`` is the start when the scenario has none."""
    start = scenario.start or now or utcnow()
    runs = _runs(scenario)
    heap: list[tuple[float, int, _ModelRun | SimEvent]] = []
    seq = 0
    for run in runs:
        heap.append((0.0, seq, run))
        seq += 1
    while heap:
        t, _, item = heapq.heappop(heap)
        if not isinstance(item, _ModelRun):
            yield start + timedelta(seconds=t), item
            continue
        t_next = t + item.rng.expovariate(item.sim.rate_per_s)
        if t_next >= scenario.duration_s:
            continue
        for due, ev in _prediction_events(item, t_next, t, start):
            heapq.heappush(heap, (due, seq, ev))
            seq += 1
        heapq.heappush(heap, (t_next, seq, item))
        seq += 1


def wall_delay(due: datetime, sim_start: datetime, wall_elapsed_s: float, speed: float) -> float:
    """Seconds to wait before publishing an event due at ``due`` (``speed`` x real time; 0 = no wait)."""
    if speed <= 0:
        return 0.0
    return max(0.0, (due - sim_start).total_seconds() / speed - wall_elapsed_s)


@dataclass(frozen=True)
class SimulateOptions:
    scenario: Scenario
    speed: float
    limit: int | None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The scenario options (shared by ``python -m mlmon_collector simulate`` and ``mlmon simulate``)."""
    p.add_argument(
        "--scenario",
        type=Path,
        default=os.environ.get(SCENARIO_ENV) or None,
        help=f"scenario YAML (default: ${SCENARIO_ENV}, else the built-in 3-model fleet)",
    )
    p.add_argument("--seed", type=int, help="override the scenario seed")
    p.add_argument("--duration", type=_positive_float, help="override duration_s (seconds of simulated time)")
    p.add_argument("--run-id", help="prefix making prediction ids unique across runs")
    p.add_argument(
        "--speed",
        type=_positive_float,
        default=os.environ.get(SPEED_ENV, "1.0"),
        help=f"x real time; 0 = as fast as possible (default: ${SPEED_ENV}, else 1)",
    )
    p.add_argument("--limit", type=int, help="stop after this many events")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlmon simulate", description="Run a simulated model fleet.")
    add_arguments(p)
    return p


def options(args: argparse.Namespace, p: argparse.ArgumentParser) -> SimulateOptions:
    """Validated options from parsed arguments; a bad scenario exits with status 2 and the message."""
    overrides = {
        k: v for k, v in (("seed", args.seed), ("duration_s", args.duration), ("run_id", args.run_id)) if v is not None
    }
    try:
        base = load_scenario(args.scenario) if args.scenario else default_scenario()
        scenario = Scenario.model_validate({**base.model_dump(), **overrides})
    except (OSError, ValueError) as exc:
        p.error(f"--scenario: {exc}")
    if args.limit is not None and args.limit < 1:
        p.error(f"--limit must be >= 1, got {args.limit}")
    return SimulateOptions(scenario=scenario, speed=args.speed, limit=args.limit)


def parse_args(argv: Sequence[str] | None = None) -> SimulateOptions:
    """Parse the CLI; a bad scenario exits with status 2 and the validation message."""
    p = build_parser()
    return options(p.parse_args(argv), p)


def main(argv: Sequence[str] | None = None, sink: Callable[[datetime, SimEvent], None] | None = None) -> int:
    """Run the fleet into ``sink`` (the caller publishes and paces); without one, a dry run."""
    opts = parse_args(argv)
    counts: Counter[str] = Counter()
    for n, (due, event) in enumerate(simulate(opts.scenario), start=1):
        if sink is not None:
            sink(due, event)
        counts[event.event_type] += 1
        if opts.limit is not None and n >= opts.limit:
            break
    logger.info("simulation finished", extra={"events": dict(counts)})
    return 0
