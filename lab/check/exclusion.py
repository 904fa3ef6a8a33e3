"""Locks: no two runners ever held an exclusive lock at once, as far as the stamps can prove,
and no wait outlasted the scenario's lock timeout.

Each event's slack comes from who stamped it (``metrics.CLOCK_UNCERTAINTY_S``). Where the
run's environment said its locks do not exclude (``faults.json``: a fault campaign's lying
locks), overlapping holds are what the environment did, not what the subject did: they are
not judged; whatever they broke shows in the facts and the cache.
"""

from __future__ import annotations

from lab import metrics
from lab.check.findings import Findings, Kind, Violation
from lab.check.record import RunRecord
from lab.contract import FaultAction

# A wait may outlast the timeout by this much (or a tenth of it) before it counts as unbounded:
# the subject notices its deadline on its next poll, and uv's lines are stamped on arrival.
_TIMEOUT_SLACK_S = 1.0


def _overlaps(spans: list[metrics.LockSpan]) -> list[Violation]:
    violations = []
    for pair in metrics.overlapping_holds(spans):
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
    return violations


def _paused(record: RunRecord, runner: str, start: float, end: float) -> float:
    """How long ``runner`` itself was paused by a fault between ``start`` and ``end``: a
    stopped process cannot notice its deadline."""
    total = 0.0
    for e in record.struck(runner):
        if e.data.get("action") == FaultAction.PAUSE:
            paused_from, paused_to = e.t_mono, e.t_mono + float(e.data.get("seconds") or 0)
            total += max(0.0, min(end, paused_to) - max(start, paused_from))
    return total


def _unbounded(record: RunRecord, spans: list[metrics.LockSpan]) -> list[Violation]:
    limit = record.lock_timeout
    if limit is None:
        return []
    allowed = limit + max(_TIMEOUT_SLACK_S, 0.1 * limit)
    violations = []
    for span in spans:
        stopped = span.acquired or span.gave_up or record.ends.get(span.runner)
        if stopped is None:
            continue
        waited = stopped - span.asked - _paused(record, span.runner, span.asked, stopped)
        if waited > allowed:
            violations.append(
                Violation(
                    Kind.UNBOUNDED_WAIT,
                    f"{span.runner} waited {waited:.1f} s for {span.key}; the scenario allows "
                    f"{limit:g} s",
                    runner=span.runner,
                    key=span.key,
                    expected=limit,
                    found=round(waited, 3),
                )
            )
    return violations


def check(record: RunRecord) -> Findings:
    spans = metrics.lock_spans(record.events)
    overlaps = _overlaps(spans) if record.locks_exclude else []
    return Findings(overlaps + _unbounded(record, spans))
