"""The independent checker: a run's verdict from facts, never from a runner's own word.

    judgement = check(run_dir)

It reads only the run directory (``lab.rundir``): what each checkout must give (``expected``),
what happened and who stamped it (``history``), how failing runners ended (their logs) and
what is left in the cache. It never reads which subject or policy ran. As Jepsen's
checkers do, it composes small checkers, each a pure function of the record:

- ``facts``: each runner's venv against its own checkout's identity;
- ``oracle``: each runner's install against a cold build of its checkout's content;
- ``cache``: every wheel, unpacked wheel and entry of the final cache;
- ``exclusion``: no exclusive lock held by two runners at once, no wait beyond the
  scenario's lock timeout;
- ``liveness``: no sweeper removed a live builder's scratch dir.

The verdict is ``invalid`` where anything unsafe was seen, else ``unknown`` where something
could not be judged (a runner killed, facts missing), else ``valid``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.check import cache, exclusion, facts, liveness, oracle
from lab.check.findings import Findings, Kind, Unknown, Violation
from lab.check.record import RunRecord, load
from lab.vocabulary import Outcome, Verdict

__all__ = ["Judgement", "Kind", "RunRecord", "Unknown", "Violation", "check", "judge", "load"]


@dataclass(frozen=True)
class Judgement:
    """What the checker says of a run: its verdict, why, and each runner's outcome."""

    verdict: Verdict
    violations: list[Violation]
    unknowns: list[Unknown]
    outcomes: dict[str, Outcome]  # each runner's

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _outcome(runner: str, record: RunRecord, found: Findings) -> Outcome:
    if any(v.runner == runner for v in found.violations):
        return Outcome.INVALID
    if any(u.runner == runner for u in found.unknowns):
        return Outcome.UNKNOWN
    return Outcome.VALID if record.exits.get(runner) == 0 else Outcome.FAILED_CLEAN


def judge(record: RunRecord) -> Judgement:
    reported = {runner: record.facts(runner) for runner in record.runners}
    found = (
        facts.check(record)
        + oracle.check(record.oracle, record.exits, reported, record.identities)
        + cache.check(record)
        + exclusion.check(record)
        + liveness.check(record)
    )
    if found.violations:
        verdict = Verdict.INVALID
    elif found.unknowns:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.VALID
    outcomes = {r: _outcome(r, record, found) for r in record.runners}
    return Judgement(verdict, found.violations, found.unknowns, outcomes)


def check(run_dir: Path) -> Judgement:
    """Judge the run in ``run_dir``; UsageError where it is not a run directory."""
    return judge(load(run_dir))
