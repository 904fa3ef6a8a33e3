"""The rows a benchmark's suites measure, one per cell or run. Their fields are the keys of
``bench.json``'s rows, which the benchmark's page (``lab.report.html.render_bench``) reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lab.vocabulary import RunStatus, Verdict


class Suite(enum.StrEnum):
    BACKENDS = "backends"  # docker against local
    SUBJECTS = "subjects"  # subjects at N runners
    SWARM = "swarm"  # the default policy at N runners over a test swarm's nodes, and on docker


# The bar every subject is measured against: uv's own work without a lock, the same N runners
# each at its own path, so that no one shares a key and nobody waits.
LOCK_FREE_UV = "uv, different paths"


@dataclass(frozen=True)
class SubjectRow:
    """A cell of the subjects suite: a subject at N runners building a workload, as its
    median trial (or its first failure) measured it."""

    workload: str
    runners: int
    subject: str  # a subject, or LOCK_FREE_UV
    ratio: float | None  # makespan over its own fastest runner
    makespan_s: float | None
    single_build_s: float | None
    wait_p50_s: float  # on cache-entry locks
    wait_p99_s: float
    hold_p50_ms: float
    hold_p99_ms: float
    start_p50_s: float | None  # run start to first line, per runner
    serialized: bool
    coalesced: bool
    status: RunStatus
    verdict: Verdict
    run_id: str
    makespans_s: tuple[float | None, ...]  # every trial's
    # set by against_uv, from the lock-free uv rows of the same workload
    vs_uv_one_build: float | None = None
    vs_lock_free_uv: float | None = None


@dataclass(frozen=True)
class ReuseHit:
    """A fresh checkout identical to one already built, on the cache that build filled."""

    workload: str
    subject: str
    wall_s: float | None  # its runner's
    hit: bool | None  # None: the subject reports no lookup (uv)
    lookup_to_installed_s: float | None
    status: RunStatus
    verdict: Verdict
    run_id: str


@dataclass(frozen=True)
class SwarmRow:
    """The default policy at N runners on one backend: the swarm, or the one engine."""

    backend: str
    runners: int
    nodes: int
    all_running_s: float | None  # the first runner's start to every runner's first line
    start_p50_s: float | None
    makespan_s: float | None
    status: RunStatus
    verdict: Verdict
    run_id: str


@dataclass(frozen=True)
class BackendFigures:
    backend: str
    trials: int
    start_s: float  # median, per runner: run start -> its first output line
    overhead_s: float  # median makespan - build delay, with N runners that never wait
