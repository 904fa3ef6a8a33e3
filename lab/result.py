"""The result of a run, as stored in ``result.json`` and printed with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lab import metrics
from lab.check import Judgement, Unknown, Violation
from lab.contract import Event, LockKind, Op, Phase
from lab.vocabulary import Outcome, RunStatus, StepKind, Topology, Verdict, runner_names, worst


class Setup(Protocol):
    """What of its scenario a run's result says (``lab.scenario.Scenario`` has it)."""

    @property
    def name(self) -> str: ...

    @property
    def runners(self) -> int: ...

    @property
    def topology(self) -> Topology: ...

    @property
    def build_delay(self) -> float: ...

    @property
    def project(self) -> str | None: ...


class Named(Protocol):
    """What of its subject a run's result says (every ``lab.subjects.Subject`` has it)."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...


SERIALIZED_FRACTION = 0.5
# The version of result.json's format (the events' format is the contract's SCHEMA_VERSION).
RESULT_SCHEMA = 1


@dataclass(frozen=True)
class RunnerResult:
    name: str
    rc: int | None  # None: killed (timeout or interrupt) before it exited
    wall_s: float | None
    lock_wait_s: float
    lock_hold_s: float
    outcome: Outcome = Outcome.UNKNOWN  # the checker's, from facts


@dataclass(frozen=True)
class LockWait:
    runner: str
    key: str
    wait_s: float
    holder: str | None  # the runner that held the lock meanwhile


@dataclass(frozen=True)
class RunResult:
    run_id: str
    scenario: str
    status: RunStatus
    backend: str
    subject: str  # as in --subjects: uv@0.13.9, narrow
    subject_label: str  # for people: uv 0.13.9, narrow builder
    topology: Topology
    build_delay_s: float
    runners: list[RunnerResult]
    single_build_s: float | None
    makespan_s: float | None
    ratio: float | None
    longest_wait: LockWait | None
    longest_hold_s: float = 0.0  # the longest single hold of a cache lock (not tree locks)
    # the longest wait was on another runner's hold of half a build or more, for half of that
    # hold or more, and then the runner built anyway (serialized) or reused the holder's build
    # (coalesced)
    serialized: bool = False
    coalesced: bool = False
    keys: list[str] = field(default_factory=list)
    overlapping_holds: int = 0
    # the independent checker's judgement (lab.check), from the run directory alone
    verdict: Verdict = Verdict.UNKNOWN
    violations: list[Violation] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)
    schema: int = RESULT_SCHEMA

    @property
    def outcome(self) -> Outcome:
        """The run's as a whole: its worst runner's, or worse where the checker found the
        cache or the locks at fault (the run's own verdict)."""
        parts = [r.outcome for r in self.runners]
        if self.verdict is Verdict.INVALID:
            parts.append(Outcome.INVALID)
        elif self.verdict is Verdict.UNKNOWN:
            parts.append(Outcome.UNKNOWN)
        return worst(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)


def representative(trials: Sequence[RunResult]) -> RunResult:
    """The trial that stands for a cell run several times: the median one by makespan where
    every trial ran and the checker found it valid, else the first that did not, so that a
    failure is never hidden behind a median."""
    if not trials:
        raise ValueError("no trials to choose from")
    bad = [
        t
        for t in trials
        if t.status is not RunStatus.OK or t.verdict is not Verdict.VALID or t.makespan_s is None
    ]
    if bad:
        return bad[0]
    ordered = sorted(trials, key=lambda t: t.makespan_s or 0.0)
    return ordered[(len(ordered) - 1) // 2]  # the lower median of an even count: a real run


def last_run_step(events: list[Event]) -> list[Event]:
    """The events from the last run step on: a run of several steps is measured by its last
    run step, the one whose runners the checker judges."""
    starts = [
        e.t_mono
        for e in events
        if e.op is Op.STEP and e.phase is Phase.START and e.data.get("kind") == StepKind.RUN
    ]
    return [e for e in events if e.t_mono >= starts[-1]] if starts else events


def summarize(
    events: list[Event],
    *,
    run_id: str,
    scenario: Setup,
    status: RunStatus,
    backend: str,
    subject: Named,
    judgement: Judgement,
) -> RunResult:
    events = last_run_step(events)
    # The scenario's runners: not a cache step's own runner, nor the lab's step events.
    names = set(runner_names(scenario.runners))
    all_spans = [s for s in metrics.lock_spans(events) if s.runner in names]
    # Waits count every lock, the tree lock of a shared tree included. Holds count the locks
    # taken to publish only: a tree lock is held for a whole build by design, and one
    # runner's lock while it makes a build env for the others for as long as that takes.
    spans = [s for s in all_spans if not metrics.guards_work(s)]
    bounds = {r: b for r, b in metrics.run_bounds(events).items() if r in names}
    runners = [
        RunnerResult(
            name=name,
            rc=rc,
            wall_s=_r(end - start) if end is not None else None,
            lock_wait_s=_r(sum(s.wait_s for s in all_spans if s.runner == name)),
            lock_hold_s=_r(sum(s.hold_s for s in spans if s.runner == name)),
            outcome=judgement.outcomes.get(name, Outcome.UNKNOWN),
        )
        for name, (start, end, rc) in bounds.items()
    ]
    finished = [(start, end) for start, end, _ in bounds.values() if end is not None]
    makespan = None
    if finished and len(finished) == len(bounds):
        makespan = max(e for _, e in finished) - min(s for s, _ in finished)
    # The runner that finished first waited for no one: its wall time is one build, measured
    # side by side with the others rather than in a separate run.
    walls = [r.wall_s for r in runners if r.wall_s is not None and r.rc == 0]
    single = min(walls) if walls else None
    longest = max(all_spans, key=lambda s: s.wait_s, default=None)
    holder = metrics.holder_during(all_spans, longest) if longest is not None else None
    longest_wait = _longest_wait(longest, holder)
    # A template's build delay is a floor no load lowers; where there is none (a project's
    # build does not sleep), the fastest runner's time.
    delay = scenario.build_delay if scenario.project is None else 0.0
    floor = min(delay, single or 0.0) if delay > 0 else single
    built = _built_after(events, longest, holder, longest_wait, floor)
    return RunResult(
        run_id=run_id,
        scenario=scenario.name,
        status=status,
        backend=backend,
        subject=subject.name,
        subject_label=subject.label,
        topology=scenario.topology,
        build_delay_s=scenario.build_delay,
        runners=runners,
        single_build_s=single,
        makespan_s=_r(makespan) if makespan is not None else None,
        ratio=_r(makespan / single, 3) if makespan is not None and single else None,
        longest_wait=longest_wait,
        longest_hold_s=_r(max((s.hold_s for s in spans), default=0.0), 4),
        serialized=built is True,
        coalesced=built is False,
        keys=sorted({s.key for s in all_spans}),
        overlapping_holds=len(metrics.overlapping_holds(all_spans)),
        verdict=judgement.verdict,
        violations=judgement.violations,
        unknowns=judgement.unknowns,
    )


def _longest_wait(
    longest: metrics.LockSpan | None, holder: metrics.LockSpan | None
) -> LockWait | None:
    if longest is None or longest.wait_s <= 0:
        return None
    return LockWait(
        longest.runner, longest.key, _r(longest.wait_s), holder.runner if holder else None
    )


def _built_after(
    events: list[Event],
    longest: metrics.LockSpan | None,
    holder: metrics.LockSpan | None,
    wait: LockWait | None,
    one_build_s: float | None,
) -> bool | None:
    """Whether the runner that waited longest, on another runner's hold of half a build or
    more, for half of that hold or more, then built anyway (True: serialized) or reused the
    holder's work (False: coalesced); None where it waited less, or the history cannot tell.

    The wait and what came after it are weighed against the holder's own hold, measured in
    the same run: a loaded machine stretches the two alike, so the verdict does not move
    with the load. ``one_build_s`` only tells a hold that covered a build from a publish's
    milliseconds."""
    if longest is None or wait is None or not one_build_s:
        return None
    if holder is None or holder.released is None:
        return None
    if holder.hold_s < SERIALIZED_FRACTION * one_build_s:
        return None
    if wait.wait_s < SERIALIZED_FRACTION * holder.hold_s:
        return None
    if longest.kind == LockKind.ENV_MAKE:
        return metrics.made_env_after_wait(events, longest)
    return metrics.built_after_wait(events, longest, holder.hold_s)


def _r(value: float, digits: int = 3) -> float:
    return round(value, digits)
