"""Exclusive locks: no two runners ever held one at once, as far as the stamps can prove
(each event's slack comes from who stamped it: ``metrics.CLOCK_UNCERTAINTY_S``)."""

from __future__ import annotations

from lab import metrics
from lab.check.findings import Findings, Kind, Violation
from lab.check.record import RunRecord


def check(record: RunRecord) -> Findings:
    violations = []
    for pair in metrics.overlapping_holds(metrics.lock_spans(record.events)):
        first, second = sorted(pair, key=lambda span: span.acquired or 0.0)
        violations.append(
            Violation(
                Kind.OVERLAPPING_HOLDS,
                f"{first.runner} and {second.runner} held {first.key} at once",
                runner=second.runner,
                key=first.key,
                expected="one holder at a time",
                found=[first.runner, second.runner],
            )
        )
    return Findings(violations)
