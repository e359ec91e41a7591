"""Domain errors -> HTTP status codes, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException

from mlmon_common.errors import RetryableError
from mlmon_maintenance.coordinator import ConflictError
from mlmon_maintenance.plans import IllegalTransitionError
from mlmon_maintenance.state import PlanNotFoundError


@contextmanager
def http_errors() -> Iterator[None]:
    """404 unknown plan, 409 illegal transition or conflicting plan, 422 bad value, 503 Redis down."""
    try:
        yield
    except PlanNotFoundError as exc:
        raise HTTPException(404, f"no plan {exc.args[0]!r}") from None
    except (IllegalTransitionError, ConflictError) as exc:
        raise HTTPException(409, str(exc)) from None
    except RetryableError as exc:
        raise HTTPException(503, f"state store unavailable: {exc}") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
