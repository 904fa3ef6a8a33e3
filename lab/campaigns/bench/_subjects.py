"""The subjects suite: every subject at every N of every workload, each N beside lock-free
uv at the same N, then each subject's reuse hit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lab import metrics, scenario
from lab.campaigns.bench._bars import against_uv
from lab.campaigns.bench._events import (
    entry_lock_keys,
    events_of,
    median_s,
    percentile,
    start_latencies,
)
from lab.campaigns.bench._reports import SubjectsReport, now
from lab.campaigns.bench._rows import LOCK_FREE_UV, ReuseHit, SubjectRow
from lab.campaigns.bench._workloads import WORKLOADS, Workload, cell_scenario
from lab.campaigns.claims import commit
from lab.contract import Op, Phase
from lab.log import log
from lab.refbuilder import DEFAULT_POLICY
from lab.result import RunResult, last_run_step, representative
from lab.run import Lab
from lab.scenario import Step
from lab.vocabulary import StepKind, Topology, runner_names

# The subjects suite's subjects: uv against every safe policy of the reference builder.
MEASURED = ("uv", "wide", "narrow", "coalesce")


def subjects(
    lab: Lab,
    *,
    subject_names: Sequence[str] = MEASURED,
    chosen: Sequence[Workload] = WORKLOADS,
    trials: int | None = None,
    runner_counts: Sequence[int] | None = None,
    reuse: bool = True,
) -> SubjectsReport:
    """Every subject at every N of every workload (or at ``runner_counts``), each N beside
    lock-free uv at the same N, then each subject's reuse hit. Each cell runs ``trials``
    times (default: its workload's own), the subjects of one N taking turns trial by trial
    so that those compared are measured in the same minutes. The reference builder's
    policies judge freshness by content (their own rule), uv by its own (ctime): identical
    checkouts are what CI has. ``reuse``: measure the reuse hits too."""
    at_commit = commit()  # the code that runs, whatever the checkout becomes meanwhile
    measured = [
        dataclasses.replace(
            w,
            trials=trials or w.trials,
            runner_counts=tuple(runner_counts or w.runner_counts),
        )
        for w in chosen
    ]
    rows: list[SubjectRow] = []
    hits: list[ReuseHit] = []
    for workload in measured:
        for n in workload.runner_counts:
            rows += _at(lab, workload, n, subject_names)
        if reuse:
            hits += [_reuse_hit(lab, workload, subject) for subject in subject_names]
    return SubjectsReport(
        when=now(),
        commit=at_commit,
        default_policy=str(DEFAULT_POLICY),
        backend=lab.backend.name,
        workloads=tuple(measured),
        rows=tuple(against_uv(rows)),
        reuse=tuple(hits),
    )


def _at(lab: Lab, workload: Workload, n: int, subject_names: Sequence[str]) -> list[SubjectRow]:
    """The cells of one N: lock-free uv, then each subject at the same path."""
    cells = [
        (LOCK_FREE_UV, "uv", Topology.DIFFERENT_PATHS),
        *((name, name, Topology.SAME_PATH) for name in subject_names),
    ]
    done: dict[str, list[RunResult]] = {label: [] for label, _, _ in cells}
    for trial in range(1, workload.trials + 1):
        for label, subject, topology in cells:
            s = cell_scenario(workload, subject, [f"runners={n}", f"topology={topology}"])
            result = lab.run(s)  # a failed run is a row, too
            done[label].append(result)
            log(
                f"{workload.name} N={n} {label} ({trial}/{workload.trials}): makespan "
                f"{result.makespan_s} s, {result.status}, {result.verdict}"
            )
    return [_cell(lab, workload, n, label, trials) for label, trials in done.items()]


def _cell(
    lab: Lab, workload: Workload, n: int, label: str, trials: Sequence[RunResult]
) -> SubjectRow:
    """The row of a cell run ``trials`` times: its median trial's figures (or its first
    failure's), and every trial's makespan."""
    result = representative(trials)
    events = events_of(lab.runs_dir, result)
    entry_keys = entry_lock_keys(events)
    spans = [s for s in metrics.lock_spans(events) if s.key in entry_keys]
    holds = [s.hold_s for s in spans if s.acquired is not None]
    waits = [s.wait_s for s in spans]
    return SubjectRow(
        workload=workload.name,
        runners=n,
        subject=label,
        ratio=result.ratio,
        makespan_s=result.makespan_s,
        single_build_s=result.single_build_s,
        wait_p50_s=round(percentile(waits, 0.5), 3),
        wait_p99_s=round(percentile(waits, 0.99), 3),
        hold_p50_ms=round(percentile(holds, 0.5) * 1000, 1),
        hold_p99_ms=round(percentile(holds, 0.99) * 1000, 1),
        start_p50_s=median_s(start_latencies(events)),
        serialized=result.serialized,
        coalesced=result.coalesced,
        status=result.status,
        verdict=result.verdict,
        run_id=result.run_id,
        makespans_s=tuple(t.makespan_s for t in trials),
    )


def _reuse_hit(lab: Lab, workload: Workload, subject: str) -> ReuseHit:
    """A fresh checkout identical to one already built, on the cache that build filled: its
    runner's wall time and, where the subject reports it, lookup to installed."""
    first, second = runner_names(2)
    steps = [Step(kind=StepKind.RUN, runners=(runner,)) for runner in (first, second)]
    s = scenario.with_changes(
        cell_scenario(workload, subject, ["runners=2"]), "the reuse-hit benchmark", steps=steps
    )
    result = lab.run(s)
    mine = [e for e in last_run_step(events_of(lab.runs_dir, result)) if e.runner == second]
    looked = [e.t_mono for e in mine if e.op is Op.LOOKUP and e.phase is Phase.START]
    installed = [e.t_mono for e in mine if e.op is Op.INSTALL and e.phase is Phase.END]
    hit = any(e.op is Op.LOOKUP and e.phase is Phase.HIT for e in mine)
    took = round(installed[-1] - looked[0], 3) if looked and installed else None
    log(f"{workload.name} reuse hit {subject}: {result.makespan_s} s")
    return ReuseHit(
        workload=workload.name,
        subject=subject,
        wall_s=result.makespan_s,
        hit=hit if looked else None,
        lookup_to_installed_s=took,
        status=result.status,
        verdict=result.verdict,
        run_id=result.run_id,
    )
