"""A real retraining job: logistic regression (numpy) on recent labelled rows.

Input is NDJSON, one row per line: ``{"features": {"age": 41, "plan": 2}, "label": 1, "occurred_at": "..."}``
(``occurred_at`` optional; rows are used oldest first). Numeric and boolean features are used; missing
values are imputed with the training mean. The most recent ``--holdout-fraction`` of the rows is held out;
the candidate is trained on the rest and, when ``--current`` names the model in production, verified
against it on the held-out window (see ``verify.py``). Writes the candidate to ``--out`` and a JSON report
(metrics before/after, decision) to ``--report`` and stdout. Exit code 0 when promoted, 3 when rejected,
2 on bad input.

    python -m mlmon_maintenance.retrain --data rows.ndjson --out candidate.json --current model.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from mlmon_common.events import FeatureName, Scalar

logger = logging.getLogger(__name__)

EXIT_PROMOTED, EXIT_BAD_INPUT, EXIT_REJECTED = 0, 2, 3


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    features: dict[FeatureName, Scalar | None]
    label: Scalar
    occurred_at: AwareDatetime | None = None


def load_rows(path: Path) -> list[Row]:
    """Parse an NDJSON file; a bad line raises ``ValueError`` naming the line and the field."""
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(Row.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(map(str, first["loc"])) or "<row>"
            raise ValueError(f"{path.name} line {number}: {field}: {first['msg']}") from None
    has_time = [r for r in rows if r.occurred_at is not None]
    if has_time and len(has_time) == len(rows):
        rows.sort(key=lambda r: r.occurred_at)  # type: ignore[arg-type,return-value]
    return rows


def _numeric(value: Scalar | None) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True)
class LogisticModel:
    features: list[str]
    classes: list[Scalar]
    mean: list[float]
    std: list[float]
    weights: list[float]
    bias: float
    trained_rows: int

    def matrix(self, rows: Sequence[Row]) -> np.ndarray:
        """Standardised feature matrix; missing/non-numeric values become the mean (0)."""
        x = np.zeros((len(rows), len(self.features)))
        for i, row in enumerate(rows):
            for j, name in enumerate(self.features):
                value = _numeric(row.features.get(name))
                x[i, j] = 0.0 if value is None else (value - self.mean[j]) / self.std[j]
        return x

    def predict_proba(self, rows: Sequence[Row]) -> np.ndarray:
        """P(label == classes[1]) per row."""
        z = self.matrix(rows) @ np.asarray(self.weights) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))))

    def targets(self, rows: Sequence[Row]) -> np.ndarray:
        return np.array([1.0 if r.label == self.classes[1] else 0.0 for r in rows])

    def to_json(self) -> str:
        return json.dumps({"type": "logistic_regression", **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LogisticModel:
        doc = json.loads(text)
        if doc.pop("type", None) != "logistic_regression":
            raise ValueError("type: expected 'logistic_regression'")
        return cls(**doc)


def _feature_stats(rows: Sequence[Row]) -> tuple[list[str], list[float], list[float]]:
    columns: dict[str, list[float]] = {}
    for row in rows:
        for name, value in row.features.items():
            if (number := _numeric(value)) is not None:
                columns.setdefault(name, []).append(number)
    names = sorted(columns)
    if not names:
        raise ValueError("features: no numeric feature in the training rows")
    mean = [float(np.mean(columns[n])) for n in names]
    std = [float(np.std(columns[n])) or 1.0 for n in names]
    return names, mean, std


def train(rows: Sequence[Row], *, l2: float = 1e-3, epochs: int = 500, lr: float = 0.5) -> LogisticModel:
    """Full-batch gradient descent on the L2-regularised log loss (deterministic)."""
    classes = sorted({r.label for r in rows}, key=lambda v: (type(v).__name__, v))
    if len(classes) != 2:
        raise ValueError(f"label: need exactly 2 classes to train, got {len(classes)}: {classes[:5]}")
    names, mean, std = _feature_stats(rows)
    model = LogisticModel(names, classes, mean, std, [0.0] * len(names), 0.0, len(rows))
    x, y = model.matrix(rows), model.targets(rows)
    w, b = np.zeros(len(names)), 0.0
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w + b, -500, 500)))
        grad = p - y
        w -= lr * (x.T @ grad / len(rows) + l2 * w)
        b -= lr * float(grad.mean())
    return LogisticModel(names, classes, mean, std, [float(v) for v in w], b, len(rows))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mlmon_maintenance.retrain", description=__doc__.split("\n")[0])
    p.add_argument(
        "--job-dir",
        type=Path,
        help="defaults for the paths below: <dir>/data.ndjson, candidate.json, current.json (if any), report.json",
    )
    p.add_argument("--data", type=Path, help="NDJSON labelled rows")
    p.add_argument("--out", type=Path, help="where to write the candidate model (JSON)")
    p.add_argument("--current", type=Path, help="the model in production (JSON), to verify against")
    p.add_argument("--report", type=Path, help="where to write the verification report (JSON)")
    p.add_argument("--max-rows", type=int, default=50_000, help="use at most the N most recent rows")
    p.add_argument("--holdout-fraction", type=float, default=0.2)
    p.add_argument("--min-holdout-rows", type=int, default=50)
    p.add_argument("--margin", type=float, default=0.01, help="required improvement to promote")
    p.add_argument("--metric", choices=["accuracy", "log_loss"], default="accuracy")
    return p


def _job_dir_defaults(args: argparse.Namespace) -> None:
    d: Path = args.job_dir
    args.data = args.data or d / "data.ndjson"
    args.out = args.out or d / "candidate.json"
    args.report = args.report or d / "report.json"
    if args.current is None and (d / "current.json").exists():
        args.current = d / "current.json"
    if (d / "verification.json").exists():  # the service's verification settings, unless given explicitly
        doc = json.loads((d / "verification.json").read_text())
        defaults = _parser()
        for name in ("metric", "margin", "holdout_fraction", "min_holdout_rows"):
            if name in doc and getattr(args, name) == defaults.get_default(name):
                setattr(args, name, doc[name])


def main(argv: Sequence[str] | None = None) -> int:
    from mlmon_maintenance.config import Verification
    from mlmon_maintenance.verify import split_recent, verify

    parser = _parser()
    args = parser.parse_args(argv)
    if args.job_dir is not None:
        _job_dir_defaults(args)
    if args.data is None or args.out is None:
        parser.error("--data and --out are required (or --job-dir)")
    try:
        cfg = Verification(
            metric=args.metric,
            margin=args.margin,
            holdout_fraction=args.holdout_fraction,
            min_holdout_rows=args.min_holdout_rows,
        )
        rows = load_rows(args.data)[-args.max_rows :]
        older, recent = split_recent(rows, cfg.holdout_fraction, cfg.min_holdout_rows)
        candidate = train(older)
        current = LogisticModel.from_json(args.current.read_text()) if args.current else None
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"retrain: {exc}\n")
        return EXIT_BAD_INPUT
    result = verify(candidate, current, recent, cfg)
    args.out.write_text(candidate.to_json())
    report = json.dumps(result.as_dict(), sort_keys=True)
    if args.report:
        args.report.write_text(report)
    sys.stdout.write(report + "\n")
    return EXIT_PROMOTED if result.decision == "promote" else EXIT_REJECTED


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    raise SystemExit(main())
