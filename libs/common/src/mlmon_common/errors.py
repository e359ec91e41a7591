"""Errors that decide what happens to a record: retry it, or dead-letter it.

``RetryableError``  a transient failure (Redis or a receiver down, a timeout): the runner retries the same
                    record with exponential backoff until ``retry_deadline_s``; the offset is not stored meanwhile.
``PermanentError``  the record can never be handled (invalid, refers to something impossible): it goes to the
                    dead-letter topic at once with the reason, the offset is stored, the loop continues.
Anything else a handler raises is treated as permanent for that record (logged with its traceback) so a
bug in one code path cannot stop a partition; a ``pydantic.ValidationError`` from decoding is permanent.
"""

from __future__ import annotations


class MlmonError(Exception):
    """Base class of mlmon's own errors."""


class RetryableError(MlmonError):
    """A transient failure: try the same record again later."""


class PermanentError(MlmonError):
    """The record cannot be handled, now or later: dead-letter it with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigError(MlmonError):
    """Configuration rejected at start-up; the message names the source, the path and the problem."""
