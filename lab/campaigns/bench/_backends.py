"""The backends suite: container start-up and run overhead, docker against local."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field

from lab import scenario
from lab.campaigns.bench._events import events_of, start_latencies
from lab.campaigns.bench._reports import BackendsReport, now
from lab.campaigns.bench._rows import BackendFigures
from lab.campaigns.claims import commit
from lab.errors import LabError
from lab.log import log
from lab.run import Lab
from lab.runners.local import LocalBackend
from lab.scenario import Scenario
from lab.vocabulary import RunStatus

BACKEND_TRIALS = 3


def backends(
    lab: Lab,
    *,
    repeat: int = BACKEND_TRIALS,
    runners: int = 2,
    build_delay: float = 2.0,
) -> BackendsReport:
    """Container start-up and run overhead, ``lab``'s backend (docker, checked) against the
    local one, at N runners at different paths (so that nobody waits), the two taking turns
    trial by trial."""
    at_commit = commit()  # the code that runs, whatever the checkout becomes meanwhile
    s = scenario.load_named(
        scenario.ISSUE_SCENARIO,
        [f"runners={runners}", f"build_delay={build_delay}", "topology=different-paths"],
    )
    local = _Trials(dataclasses.replace(lab, backend=LocalBackend()))
    on_docker = _Trials(lab)
    for trial in range(1, repeat + 1):
        for each in (local, on_docker):
            makespan = each.take(s, build_delay)
            log(f"trial {trial}/{repeat} {each.lab.backend.name}: makespan {makespan:.2f} s")
    return BackendsReport(
        when=now(),
        commit=at_commit,
        runners=runners,
        build_delay_s=build_delay,
        local=local.figures(),
        docker=on_docker.figures(),
    )


@dataclass
class _Trials:
    """One backend's trials so far."""

    lab: Lab
    starts: list[float] = field(default_factory=list)  # per runner, of every trial
    overheads: list[float] = field(default_factory=list)  # per trial

    def take(self, s: Scenario, build_delay: float) -> float:
        """Run ``s`` once and keep its figures; its makespan. LabError where it failed: a
        failed run has no figures to take a median of."""
        result = self.lab.run(s)
        if result.status is not RunStatus.OK or result.makespan_s is None:
            name = self.lab.backend.name
            raise LabError(f"benchmark run {result.run_id} on {name}: {result.status}")
        self.starts += start_latencies(events_of(self.lab.runs_dir, result))
        self.overheads.append(result.makespan_s - build_delay)
        return result.makespan_s

    def figures(self) -> BackendFigures:
        return BackendFigures(
            self.lab.backend.name,
            len(self.overheads),
            round(statistics.median(self.starts), 3),
            round(statistics.median(self.overheads), 3),
        )
