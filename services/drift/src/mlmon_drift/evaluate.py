"""Quality harness (``mlmon evaluate``): seeded scenarios through the live ``ModelMonitor`` and River.

For each scenario and detector: detection rate (share of affected features, or error streams, that got a
drift after the change), median/p90 delay in events of that model, and false alarms per 100k monitored
events per model (a drift start on an unaffected stream, or any start before the change) **per stream
type**: the 10 numeric features, all 16 feature streams (numeric and categorical inputs, score,
prediction) and the error stream. River's default detectors run on the same streams: ADWIN, PageHinkley
and KSWIN on the standardised numeric features (their rate scaled from the features they ran on to all
10), DDM ... FHDDM on the error stream, so each is compared with mlmon's column for the same streams.
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
from scipy import stats

from mlmon_drift.config import DriftConfig
from mlmon_drift.detectors import BINARY_DETECTORS, make_detector
from mlmon_drift.monitor import ModelMonitor
from mlmon_drift.scenarios import NUMERIC, SCENARIOS, Scenario, generate

logger = logging.getLogger(__name__)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIVE = "mlmon (live config)"
CONCEPT = "__concept__"
KINDS = ("numeric", "other", "error")  # numeric inputs; categorical inputs, score, prediction; error stream
# River's binary detectors on the error stream (1 = error, their documented input). River 0.26's FHDDM
# alarms when the mean of its input *falls* (MOA's FHDDM watches accuracy), so it also runs fed 1 = correct.
BINARY_BASELINES = {
    **{f"River {d}": (d, False) for d in BINARY_DETECTORS},
    "River FHDDM (fed 1 = correct)": ("FHDDM", True),
}


def stream_kind(name: str) -> str:
    return "error" if name == CONCEPT else "numeric" if name in NUMERIC else "other"


@dataclass
class Tally:
    """Accumulated outcome of one detector on one scenario over all seeds.

    ``alarms[kind]`` counts false alarms on that stream type; ``exposure[kind]`` the model-events they were
    counted over (a baseline that ran on 2 of 10 numeric features adds 0.2 per event); kinds a detector does
    not watch have no exposure.
    """

    targets: int = 0
    delays: list[int] = field(default_factory=list)
    alarms: dict[str, int] = field(default_factory=dict)
    exposure: dict[str, float] = field(default_factory=dict)

    def rate(self, *kinds: str) -> float | None:
        """False alarms per 100k events per model on the given stream types (None: not watched)."""
        if not all(self.exposure.get(k) for k in kinds):
            return None
        return sum(self.alarms.get(k, 0) / self.exposure[k] for k in kinds) * 1e5

    def row(self) -> dict[str, float | None]:
        watched = [k for k in KINDS if self.exposure.get(k)]
        total = self.rate(*watched) if watched else None
        rate = len(self.delays) / self.targets if self.targets else None
        return {
            "detection_rate": rate,
            "median_delay": float(np.median(self.delays)) if self.delays else None,
            "p90_delay": float(np.percentile(self.delays, 90)) if self.delays else None,
            "fa_numeric": self.rate("numeric"),
            "fa_features": self.rate("numeric", "other"),
            "fa_error": self.rate("error"),
            "false_alarms_per_100k": total,
            "mtbfa_events": 1e5 / total if total else None,
        }


def _score(
    tally: Tally,
    s: Scenario,
    starts: dict[str, list[int]],
    ref: int,
    *,
    kinds: Sequence[str] = KINDS,
    coverage: float = 1.0,
    ran_on: Sequence[str] | None = None,
    end: int | None = None,
) -> None:
    """Turn drift starts (stream -> event indices) into detections and false alarms.

    ``kinds``: the stream types the detector watches; ``coverage``: the share of those streams it ran on
    (exposure per event); ``ran_on``: the streams it ran on (targets outside it are not counted);
    ``end``: it ran on events ``[ref, end)`` only.
    """
    targets = (CONCEPT,) if s.concept else s.affected
    if ran_on is not None:
        targets = tuple(t for t in targets if t in ran_on)
    tally.targets += len(targets)
    events = (end or len(s.rows)) - ref
    for kind in kinds:
        tally.exposure[kind] = tally.exposure.get(kind, 0.0) + events * coverage
        tally.alarms.setdefault(kind, 0)
    for name in targets:
        hits = [i for i in starts.get(name, []) if s.change_at is not None and i >= s.change_at]
        if hits:
            tally.delays.append(hits[0] - s.change_at)  # type: ignore[operator]
    for name, idx in starts.items():
        before = [i for i in idx if s.change_at is None or i < s.change_at]
        tally.alarms[stream_kind(name)] += len(idx) if name not in targets else len(before)


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
                starts.setdefault(e.feature or CONCEPT, []).append(i)
    return starts


def run_river_binary(s: Scenario, name: str, ref: int, flip: bool = False) -> dict[str, list[int]]:
    """River binary detector ``name`` at defaults on the error stream (``flip``: fed 1 = correct)."""
    det = make_detector(name)
    hits = []
    for i, err in enumerate(s.errors[ref:], start=ref):
        det.update(err != flip)
        if det.drift_detected:
            hits.append(i)
    return {CONCEPT: hits} if hits else {}


def run_river(
    s: Scenario, name: str, features: Sequence[str], ref: int, end: int | None = None
) -> dict[str, list[int]]:
    """River detector ``name`` at defaults per feature on standardised values (events ``[ref, end)``)."""
    starts: dict[str, list[int]] = {}
    for feat in features:
        col = np.array([np.nan if r[feat] is None else r[feat] for r in s.rows[:end]], dtype=float)
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
    kswin_events: int  # KSWIN (~190 us per update) runs on this many events of a stream at most


QUICK = Plan(2, 4000, 2500, 26000, 2, ("ADWIN", "PageHinkley"), 0, 0)
FULL = Plan(10, 6000, 3000, 201_000, 10, ("ADWIN", "PageHinkley", "KSWIN"), 2, 31_000)


def _river_features(s: Scenario, name: str) -> tuple[str, ...]:
    if name == "KSWIN":  # slow: two features, rate scaled to all numeric features
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
            started = time.perf_counter()
            s = generate(name, seed=1000 + seed, length=length, change_at=plan.change_at)
            _score(tallies.setdefault(LIVE, Tally()), s, run_monitor(s, config), ref)
            _run_baselines(plan, s, seed, tallies, ref)
            logger.info("scenario %s seed %d: %.1f s", name, seed, time.perf_counter() - started)
    return results


def _run_baselines(plan: Plan, s: Scenario, seed: int, tallies: dict[str, Tally], ref: int) -> None:
    is_categorical = bool(s.affected) and s.affected[0] not in NUMERIC
    if s.concept or s.name == "control":
        for label, (det, flip) in BINARY_BASELINES.items():
            starts = run_river_binary(s, det, ref, flip)
            _score(tallies.setdefault(label, Tally()), s, starts, ref, kinds=("error",))
    if s.concept or is_categorical:
        return
    for det in plan.river_numeric:
        if det == "KSWIN" and seed >= plan.kswin_seeds:
            continue
        feats = _river_features(s, det)
        end = min(len(s.rows), plan.kswin_events) if det == "KSWIN" else None
        starts = run_river(s, det, feats, ref, end)
        tally = tallies.setdefault(f"River {det}", Tally())
        _score(tally, s, starts, ref, kinds=("numeric",), coverage=len(feats) / len(NUMERIC), ran_on=feats, end=end)


def _fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def table(results: dict[str, dict[str, Tally]]) -> str:
    lines = [
        "| scenario | change | detector | detection rate | median delay | p90 delay | false alarms /100k events/model:"
        " numeric features | all 16 feature streams | error stream | total | mean events between false alarms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, tallies in results.items():
        for det, tally in tallies.items():
            r = tally.row()
            lines.append(
                f"| {name} | {SCENARIOS[name][2]} | {det} | {_fmt(r['detection_rate'], 2)} "
                f"| {_fmt(r['median_delay'])} | {_fmt(r['p90_delay'])} | {_fmt(r['fa_numeric'], 1)} "
                f"| {_fmt(r['fa_features'], 1)} | {_fmt(r['fa_error'], 1)} "
                f"| {_fmt(r['false_alarms_per_100k'], 1)} | {_fmt(r['mtbfa_events'])} |"
            )
    return "\n".join(lines)


def poisson_interval(count: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean given ``count`` events.

    >>> [round(v, 3) for v in poisson_interval(0)]
    [0.0, 3.689]
    """
    tail = (1 - level) / 2
    low = 0.0 if count == 0 else float(stats.chi2.ppf(tail, 2 * count)) / 2
    return low, float(stats.chi2.ppf(1 - tail, 2 * count + 2)) / 2


def lower_rate_p_value(count: int, exposure: float, other: int, other_exposure: float) -> float:
    """One-sided exact test that ``count`` comes from a lower Poisson rate than ``other``.

    Given the total, the first count is binomial with probability ``exposure / (exposure + other_exposure)``
    under equal rates (the conditional test for two Poisson rates).

    >>> round(lower_rate_p_value(3, 1e6, 11, 1e6), 4)
    0.0287
    """
    share = exposure / (exposure + other_exposure)
    return float(stats.binom.cdf(count, count + other, share))


def control_table(tallies: dict[str, Tally]) -> str:
    """The control's false alarms per stream type: counts, exposure, 95 % Poisson intervals and, for each
    baseline, the one-sided p-value that mlmon's rate on the same streams is lower."""
    lines = [
        "| stream type | detector | false alarms | model-events watched | per 100k events/model | 95 % interval "
        "| p (mlmon lower) |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {"numeric": "10 numeric features", "other": "6 other feature streams", "error": "error stream"}
    live = tallies.get(LIVE, Tally())
    for kind in KINDS:
        for det, tally in tallies.items():
            exposure = tally.exposure.get(kind)
            if not exposure:
                continue
            count = tally.alarms.get(kind, 0)
            low, high = poisson_interval(count)
            p = "-"
            if det != LIVE and live.exposure.get(kind):
                value = lower_rate_p_value(live.alarms[kind], live.exposure[kind], count, exposure)
                p = "< 1e-12" if value < 1e-12 else f"{value:.2g}"
            lines.append(
                f"| {labels[kind]} | {det} | {count:,} | {exposure:,.0f} | {count / exposure * 1e5:,.2f} "
                f"| {low / exposure * 1e5:,.2f} - {high / exposure * 1e5:,.2f} | {p} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``mlmon evaluate [--quick] [--out FILE]``: print (or write) the results tables."""
    parser = argparse.ArgumentParser(prog="mlmon evaluate", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small run (seconds), for tests")
    parser.add_argument("--out", help="write the markdown tables to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = evaluate(QUICK if args.quick else FULL, DriftConfig())
    text = (
        table(results)
        + "\n\nControl, false alarms per stream type:\n\n"
        + control_table(results["control"])
        + f"\n\n(run time {time.perf_counter() - started:.1f} s)\n"
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
