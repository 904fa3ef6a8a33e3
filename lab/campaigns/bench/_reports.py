"""What a suite reports, one type per suite, and what it says of itself: the bars it is held
to and whether it failed. ``to_dict`` makes its record, ``bench.json``: its keys are the ones
the benchmark's page (``lab.report.html.render_bench``) reads."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from lab.campaigns.bench._bars import subjects_bars, swarm_bars
from lab.campaigns.bench._rows import (
    LOCK_FREE_UV,
    BackendFigures,
    ReuseHit,
    SubjectRow,
    Suite,
    SwarmRow,
)
from lab.campaigns.bench._workloads import Workload
from lab.campaigns.claims import Claim, any_unmet
from lab.vocabulary import RunStatus


def now() -> str:
    """When a report is made, as its record says it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class SubjectsReport:
    suite: ClassVar[Suite] = Suite.SUBJECTS

    when: str
    commit: str  # the lab's, when the suite started
    default_policy: str  # the reference builder's, held to the bars
    backend: str
    workloads: tuple[Workload, ...]  # with the trials and runner counts measured
    rows: tuple[SubjectRow, ...]
    reuse: tuple[ReuseHit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.suite,
            "when": self.when,
            "commit": self.commit,
            "default_policy": self.default_policy,
            "backend": self.backend,
            "lock_free_label": LOCK_FREE_UV,
            "workloads": [asdict(w) for w in self.workloads],
            "rows": [asdict(r) for r in self.rows],
            "reuse": [asdict(r) for r in self.reuse],
            "claims": [asdict(c) for c in claims(self)],
        }


@dataclass(frozen=True)
class BackendsReport:
    suite: ClassVar[Suite] = Suite.BACKENDS

    when: str
    commit: str
    runners: int
    build_delay_s: float
    local: BackendFigures
    docker: BackendFigures

    @property
    def docker_minus_local_start_s(self) -> float:
        return round(self.docker.start_s - self.local.start_s, 3)

    @property
    def overhead_ratio_docker_to_local(self) -> float:
        return round(self.docker.overhead_s / self.local.overhead_s, 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.suite,
            "when": self.when,
            "commit": self.commit,
            "runners": self.runners,
            "build_delay_s": self.build_delay_s,
            "figures": [asdict(self.local), asdict(self.docker)],
            "docker_minus_local_start_s": self.docker_minus_local_start_s,
            "overhead_ratio_docker_to_local": self.overhead_ratio_docker_to_local,
        }


@dataclass(frozen=True)
class SwarmReport:
    suite: ClassVar[Suite] = Suite.SWARM

    when: str
    commit: str
    default_policy: str
    workload: Workload
    rows: tuple[SwarmRow, ...]
    # the swarm backend's name: its rows are held to the bar, the one engine's are not (the
    # record has it in every row)
    swarm_backend: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.suite,
            "when": self.when,
            "commit": self.commit,
            "default_policy": self.default_policy,
            "workload": asdict(self.workload),
            "rows": [asdict(r) for r in self.rows],
            "claims": [asdict(c) for c in claims(self)],
        }


Report = SubjectsReport | BackendsReport | SwarmReport


def claims(report: Report) -> list[Claim]:
    """The bars the report is held to and whether its rows met them (the backends suite is
    held to none)."""
    if isinstance(report, SubjectsReport):
        return subjects_bars(report.rows, report.reuse, report.default_policy)
    if isinstance(report, SwarmReport):
        return swarm_bars(report.rows, report.swarm_backend)
    return []


def failed(report: Report) -> bool:
    """Whether a run of the suite failed, or a bar it is held to was not met."""
    if isinstance(report, BackendsReport):
        return False  # its suite stops at a failed run: no report
    runs: list[SubjectRow | ReuseHit | SwarmRow] = [*report.rows]
    if isinstance(report, SubjectsReport):
        runs += report.reuse
    return any_unmet(claims(report)) or any(r.status is not RunStatus.OK for r in runs)
