"""Inhibition (Alertmanager ``inhibit/inhibit.go``): a firing source alert mutes matching targets.

A target is inhibited when some *other* firing alert matches a rule's ``source_matchers``, the
target matches its ``target_matchers``, and both carry the same values for every ``equal`` label.

>>> from mlmon_alerting.config import InhibitRule
>>> rule = InhibitRule(source_matchers=['severity="critical"'], target_matchers=['severity="warning"'],
...                    equal=["model_id"])
>>> inh = Inhibitor([rule])
>>> src = {"alertname": "ModelDrift", "severity": "critical", "model_id": "churn"}
>>> inh.inhibited({"alertname": "DataDrift", "severity": "warning", "model_id": "churn"}, [src])
True
>>> inh.inhibited({"alertname": "DataDrift", "severity": "warning", "model_id": "fraud"}, [src])
False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mlmon_alerting.config import InhibitRule
from mlmon_alerting.fingerprint import fingerprint
from mlmon_alerting.matchers import matches_all

Labels = Mapping[str, str]


class Inhibitor:
    """Pure evaluation of inhibit rules against the current set of firing alerts' labels."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = list(rules)

    def inhibited_by(self, target: Labels, firing: Iterable[Labels]) -> Labels | None:
        """The labels of the first source alert inhibiting ``target``, or ``None``."""
        candidates = [r for r in self.rules if matches_all(r.target_matchers, target)]
        if not candidates:
            return None
        target_fp = fingerprint(target)
        for source in firing:
            for rule in candidates:
                if not matches_all(rule.source_matchers, source):
                    continue
                if any(source.get(name, "") != target.get(name, "") for name in rule.equal):
                    continue
                if fingerprint(source) == target_fp:
                    continue  # an alert never inhibits itself
                return source
        return None

    def inhibited(self, target: Labels, firing: Iterable[Labels]) -> bool:
        return self.inhibited_by(target, list(firing)) is not None
