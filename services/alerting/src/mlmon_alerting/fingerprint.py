"""A stable fingerprint of a label set: the identity of an alert across restarts and replicas.

Independent of label order and of the Python process (no ``hash()``): the SHA-256 of the sorted
``name\\xffvalue\\xff`` pairs, first 16 hex digits (64 bits, like Alertmanager's model.Fingerprint).

>>> fingerprint({"alertname": "ModelAccuracyLow", "model_id": "churn"})
'599ccc63958b8a0d'
>>> fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

_SEP = "\xff"


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits identifying ``labels`` (order-independent, stable across processes)."""
    h = hashlib.sha256()
    for name in sorted(labels):
        h.update(f"{name}{_SEP}{labels[name]}{_SEP}".encode())
    return h.hexdigest()[:16]


def group_fingerprint(route_id: str, group_labels: Mapping[str, str]) -> str:
    """The key of an aggregation group: the route it belongs to and its ``group_by`` label values."""
    inner = ",".join(f"{k}={group_labels[k]!r}" for k in sorted(group_labels))
    return f"{route_id}:{{{inner}}}"
