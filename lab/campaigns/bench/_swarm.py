"""The swarm suite: runners over a swarm's nodes, beside the same runners on one engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lab.campaigns.bench._events import events_of, median_s, start_latencies
from lab.campaigns.bench._reports import SwarmReport, now
from lab.campaigns.bench._rows import SwarmRow
from lab.campaigns.bench._workloads import WORKLOADS, cell_scenario
from lab.campaigns.claims import commit
from lab.log import log
from lab.refbuilder import DEFAULT_POLICY
from lab.run import Lab
from lab.runners.base import Backend
from lab.scenario import Scenario

SWARM_RUNNERS = (8, 16, 32, 64)


def swarm(
    lab: Lab, docker: Backend, *, nodes: int, runner_counts: Sequence[int] = SWARM_RUNNERS
) -> SwarmReport:
    """The issue's scenario with the default policy at N runners, over the swarm's ``nodes``
    (``lab``'s backend) and on the one engine (``docker``) in turn: the time from the first
    runner's start (a service created, a container created) to every runner running (its
    first line), the makespan, the verdict."""
    at_commit = commit()  # the code that runs, whatever the checkout becomes meanwhile
    workload = WORKLOADS[0]
    one_engine = dataclasses.replace(lab, backend=docker)
    rows = []
    for n in runner_counts:
        s = cell_scenario(workload, str(DEFAULT_POLICY), [f"runners={n}"])
        rows += [_row(lab, s, n, nodes), _row(one_engine, s, n, 1)]
    return SwarmReport(
        when=now(),
        commit=at_commit,
        default_policy=str(DEFAULT_POLICY),
        workload=workload,
        rows=tuple(rows),
        swarm_backend=lab.backend.name,
    )


def _row(lab: Lab, s: Scenario, n: int, nodes: int) -> SwarmRow:
    result = lab.run(s)  # a failed run is a row, too
    starts = start_latencies(events_of(lab.runs_dir, result))
    row = SwarmRow(
        backend=lab.backend.name,
        runners=n,
        nodes=nodes,
        all_running_s=round(max(starts), 3) if len(starts) == n else None,
        start_p50_s=median_s(starts),
        makespan_s=result.makespan_s,
        status=result.status,
        verdict=result.verdict,
        run_id=result.run_id,
    )
    log(
        f"N={n} {row.backend}: all running after {row.all_running_s} s, "
        f"makespan {result.makespan_s} s, {result.status}, {result.verdict}"
    )
    return row
