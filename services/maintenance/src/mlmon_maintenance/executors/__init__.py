"""Pluggable executors: each turns an approved plan into work and reports an ``ExecutionResult``."""

from mlmon_maintenance.executors.base import ExecutionResult, ExecutionStatus, Executor

__all__ = ["ExecutionResult", "ExecutionStatus", "Executor"]
