"""What every runner of a benchmark builds, and the scenario of one cell of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import scenario
from lab.toolchain import corpus


@dataclass(frozen=True)
class Workload:
    """What every runner builds: a template, how long its build sleeps, at which N."""

    name: str
    template: str
    build_delay: float
    runner_counts: tuple[int, ...]
    what: str
    # per cell, each showing its median trial: the sleeping hook's cells move 10-25 % from
    # run to run on two cores, the CPU-bound ones far less, and they take minutes
    trials: int = 1
    project: str | None = None  # a real project's sdist (the corpus) instead of the template


WORKLOADS = (
    Workload(
        "sleep", "hatchling", 3.0, (1, 2, 4, 8, 16, 32), "hatchling, its hook sleeping 3 s", 3
    ),
    Workload("c-extension", "setuptools-c", 0.0, (1, 2, 4, 8), "setuptools compiling C"),
    Workload("maturin", "maturin", 0.0, (1, 2, 4, 8), "maturin compiling pyo3 with cargo"),
)


# the corpus of real projects (``make real``): each at these N, one trial per cell
REAL_RUNNERS = (1, 2, 4)


def real_workloads(root: Path) -> list[Workload]:
    """A workload per project of the corpus that builds here, its sdist as ``cachelab setup
    --real`` left it in the toolchain at ``root``."""
    found = []
    for pin in corpus.pins():
        if pin.skip:
            continue
        sdist = corpus.downloaded(root, pin)
        found.append(Workload(pin.name, "hatchling", 0.0, REAL_RUNNERS, pin.build, 1, str(sdist)))
    return found


def workloads(names: Sequence[str]) -> list[Workload]:
    """The workloads named, in their order; ValueError names what would be one."""
    known = {w.name: w for w in WORKLOADS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}; choose from {', '.join(known)}")
    return [known[n] for n in names]


def cell_scenario(
    workload: Workload, subject: str, overrides: Sequence[str] = ()
) -> scenario.Scenario:
    """The issue's scenario (``scenario.ISSUE_SCENARIO``, uv #15380) building ``workload``
    with ``subject``, then ``overrides``."""
    made = scenario.load_named(
        scenario.ISSUE_SCENARIO,
        [
            f"template={workload.template}",
            f"build_delay={workload.build_delay}",
            f"subject={subject}",
            *overrides,
        ],
    )
    if workload.project is None:
        return made
    return scenario.with_changes(made, f"the project {workload.project}", project=workload.project)
