"""Quality harness (``mlmon evaluate``): seeded scenarios through the live ``ModelMonitor`` and River.

For each scenario and detector: detection rate (share of affected features, or error streams, that got a
drift after the change), median/p90 delay in events of that model, false alarms per 100k monitored
events per model (a drift start on an unaffected feature, or any start before the change) and the mean
time between false alarms in events. River's default detectors run on the same standardised streams;
their per-model false-alarm rate is scaled from the features they ran on to all numeric features.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from mlmon_drift.config import DriftConfig
from mlmon_drift.detectors import BINARY_DETECTORS, make_detector
from mlmon_drift.monitor import ModelMonitor
from mlmon_drift.scenarios import NUMERIC, SCENARIOS, Scenario, generate

logger = logging.getLogger(__name__)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIVE = "mlmon (live config)"


@dataclass
class Tally:
    """Accumulated outcome of one detector on one scenario over all seeds."""

    targets: int = 0
    delays: list[int] = field(default_factory=list)
    false_alarms: float = 0.0
    events: int = 0

    def row(self) -> dict[str, float | None]:
        rate = len(self.delays) / self.targets if self.targets else None
        fa = self.false_alarms / self.events * 1e5 if self.events else 0.0
        return {
            "detection_rate": rate,
            "median_delay": float(np.median(self.delays)) if self.delays else None,
            "p90_delay": float(np.percentile(self.delays, 90)) if self.delays else None,
            "false_alarms_per_100k": fa,
            "mtbfa_events": self.events / self.false_alarms if self.false_alarms else None,
        }


def _score(
    tally: Tally,
    s: Scenario,
    starts: dict[str, list[int]],
    ref: int,
    scale: float = 1.0,
    ran_on: Sequence[str] | None = None,
) -> None:
    """Turn drift starts (feature -> event indices) into detections and false alarms.

    ``ran_on``: the features a baseline ran on (targets outside it are not counted); ``scale`` turns
    its false alarms into a per-model figure.
    """
    targets = ("__concept__",) if s.concept else s.affected
    if ran_on is not None:
        targets = tuple(t for t in targets if t in ran_on)
    tally.targets += len(targets)
    tally.events += len(s.rows) - ref
    for name in targets:
        hits = [i for i in starts.get(name, []) if s.change_at is not None and i >= s.change_at]
        if hits:
            tally.delays.append(hits[0] - s.change_at)  # type: ignore[operator]
    for name, idx in starts.items():
        before = [i for i in idx if s.change_at is None or i < s.change_at]
        tally.false_alarms += scale * (len(idx) if name not in targets else len(before))


def run_monitor(s: Scenario, config: DriftConfig) -> dict[str, list[int]]:
    """Feed a scenario through a ModelMonitor; feature (or ``__concept__``) -> start indices."""
    mon = ModelMonitor("eval", config)
    starts: dict[str, list[int]] = {}
    for i, (row, score, err) in enumerate(zip(s.rows, s.scores, s.errors, strict=True)):
        at = T0 + timedelta(seconds=i)
        events = mon.observe(row, score > 0.5, score, at=at)
        events += mon.observe_outcome(err, at=at)
        for e in events:
            if e.state == "started" and e.kind in ("feature", "prediction", "concept"):
                starts.setdefault(e.feature or "__concept__", []).append(i)
    return starts


def run_river(s: Scenario, name: str, features: Sequence[str], ref: int) -> dict[str, list[int]]:
    """River detector ``name`` at defaults per feature on standardised values, or on the error stream."""
    starts: dict[str, list[int]] = {}
    if name in BINARY_DETECTORS:
        binary_det = make_detector(name)
        for i, err in enumerate(s.errors[ref:], start=ref):
            binary_det.update(err)
            if binary_det.drift_detected:
                starts.setdefault("__concept__", []).append(i)
        return starts
    for feat in features:
        col = np.array([np.nan if r[feat] is None else r[feat] for r in s.rows], dtype=float)
        mean, std = np.nanmean(col[:ref]), np.nanstd(col[:ref]) or 1.0
        det = make_detector(name, **({"seed": 42} if name == "KSWIN" else {}))  # KSWIN samples randomly
        for i in range(ref, col.size):
            if not np.isnan(col[i]):
                det.update(float((col[i] - mean) / std))  # type: ignore[arg-type]
                if det.drift_detected:
                    starts.setdefault(feat, []).append(i)
    return starts


@dataclass
class Plan:
    seeds: int
    length: int
    change_at: int
    control_length: int
    control_seeds: int
    river_numeric: tuple[str, ...]
    kswin_seeds: int


QUICK = Plan(2, 4000, 2500, 12000, 1, ("ADWIN", "PageHinkley"), 0)
FULL = Plan(10, 6000, 3000, 30000, 10, ("ADWIN", "PageHinkley", "KSWIN"), 2)


def _river_features(s: Scenario, name: str) -> tuple[str, ...]:
    if name == "KSWIN":  # ~190 us per update: two features, rate scaled to all numeric features
        return (s.affected[0] if s.affected and s.affected[0] in NUMERIC else "n1", "n0")
    return NUMERIC


def evaluate(plan: Plan, config: DriftConfig) -> dict[str, dict[str, Tally]]:
    """Run every scenario; scenario -> detector -> tally."""
    ref = config.reference_size
    results: dict[str, dict[str, Tally]] = {}
    for name in SCENARIOS:
        control = name == "control"
        seeds = plan.control_seeds if control else plan.seeds
        length = plan.control_length if control else plan.length
        tallies = results.setdefault(name, {})
        for seed in range(seeds):
            s = generate(name, seed=1000 + seed, length=length, change_at=plan.change_at)
            _score(tallies.setdefault(LIVE, Tally()), s, run_monitor(s, config), ref)
            _run_baselines(plan, s, seed, tallies, ref)
    return results


def _run_baselines(plan: Plan, s: Scenario, seed: int, tallies: dict[str, Tally], ref: int) -> None:
    is_categorical = bool(s.affected) and s.affected[0] not in NUMERIC
    if s.concept or s.name == "control":
        for det in BINARY_DETECTORS:
            _score(tallies.setdefault(f"River {det}", Tally()), s, run_river(s, det, (), ref), ref)
    if s.concept or is_categorical:
        return
    for det in plan.river_numeric:
        if det == "KSWIN" and seed >= plan.kswin_seeds:
            continue
        feats = _river_features(s, det)
        scale = len(NUMERIC) / len(feats)
        starts = run_river(s, det, feats, ref)
        _score(tallies.setdefault(f"River {det}", Tally()), s, starts, ref, scale, ran_on=feats)


def _fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(results: dict[str, dict[str, Tally]]) -> str:
    lines = [
        "| scenario | change | detector | detection rate | median delay | p90 delay "
        "| false alarms /100k events/model | mean events between false alarms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, tallies in results.items():
        for det, tally in tallies.items():
            r = tally.row()
            lines.append(
                f"| {name} | {SCENARIOS[name][2]} | {det} | {_fmt(r['detection_rate'], 2)} "
                f"| {_fmt(r['median_delay'])} | {_fmt(r['p90_delay'])} "
                f"| {_fmt(r['false_alarms_per_100k'], 1)} | {_fmt(r['mtbfa_events'])} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``mlmon evaluate [--quick] [--out FILE]``: print (or write) the results table."""
    parser = argparse.ArgumentParser(prog="mlmon evaluate", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (seconds), for tests")
    parser.add_argument("--out", help="write the markdown table to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = evaluate(QUICK if args.quick else FULL, DriftConfig())
    text = table(results) + f"\n\n(run time {time.perf_counter() - started:.1f} s)\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
