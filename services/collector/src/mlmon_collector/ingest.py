"""Parsing and validating an HTTP ingest body: a JSON array, or NDJSON (one object per line).

Each item is validated on its own against the event contract; problems are reported per item with its
index (0-based position in the array, or among the non-blank NDJSON lines) and the field, so a client
can resend exactly what failed. Only a body that cannot be split into items fails as a whole.

>>> batch = parse_batch(b'[{"model_id": "m", "prediction_id": "p1"}, {"model_id": "m"}]', "json", PredictionEvent)
>>> [e.prediction_id for _, e in batch.events], [(x.index, x.field) for x in batch.errors]
(['p1'], [(1, 'prediction_id')])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from mlmon_common.events import LabelEvent, PredictionEvent

Format = Literal["json", "ndjson"]
E = TypeVar("E", PredictionEvent, LabelEvent)

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    }
)


class BodyError(ValueError):
    """The body as a whole is unusable (HTTP ``status``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ItemError:
    index: int
    field: str
    message: str


@dataclass
class Batch:
    events: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.events) + len({e.index for e in self.errors})


def body_format(content_type: str | None) -> Format:
    """``json`` or ``ndjson`` from a Content-Type header; ``BodyError(415)`` otherwise."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        return "json"
    if media in NDJSON_TYPES:
        return "ndjson"
    wanted = ", ".join(sorted(JSON_TYPES | NDJSON_TYPES))
    raise BodyError(415, f"Content-Type must be one of {wanted}, got {media or 'none'!r}")


def _split(body: bytes, fmt: Format) -> list[tuple[int, Any, str | None]]:
    """(index, parsed item, parse error) per item."""
    if fmt == "json":
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BodyError(400, f"body is not valid JSON: {exc}") from exc
        if not isinstance(doc, list):
            raise BodyError(422, f"body must be a JSON array of events, got a JSON {type(doc).__name__}")
        return [(i, item, None) for i, item in enumerate(doc)]
    out: list[tuple[int, Any, str | None]] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            out.append((len(out), json.loads(line), None))
        except (ValueError, UnicodeDecodeError) as exc:
            out.append((len(out), None, f"line is not valid JSON: {exc}"))
    return out


def _errors(index: int, exc: ValidationError) -> list[ItemError]:
    return [ItemError(index, ".".join(str(p) for p in err["loc"]) or "<item>", err["msg"]) for err in exc.errors()]


def parse_batch(body: bytes, fmt: Format, model: type[E]) -> Batch:
    """Split and validate; every item ends in ``events`` (as ``(index, event)``) or in ``errors``."""
    batch = Batch()
    items = _split(body, fmt)
    if not items:
        raise BodyError(422, "body contains no items")
    for index, item, problem in items:
        if problem is not None:
            batch.errors.append(ItemError(index, "<item>", problem))
        elif not isinstance(item, dict):
            batch.errors.append(ItemError(index, "<item>", f"must be a JSON object, got {type(item).__name__}"))
        else:
            try:
                batch.events.append((index, model.model_validate(item)))
            except ValidationError as exc:
                batch.errors.extend(_errors(index, exc))
    return batch
