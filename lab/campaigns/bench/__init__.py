"""Benchmarks, measured side by side in one run: alternating configurations so that drift on
a noisy machine hits every one of them alike. Figures are ratios and medians, never a single
absolute time.

Three suites, each taking a ``Lab`` (whose runs directory its runs go to) and returning a
report of its own type: ``subjects`` (every subject at N runners against uv's own work
without a lock), ``backends`` (docker against local) and ``swarm`` (runners over a swarm's
nodes, beside one engine). A report's bars (``claims``) are computed from its rows; it is
kept with ``save`` and ``record``, shown with ``markdown``.

The rooms: ``_workloads`` (what runners build), ``_rows`` (what a cell measures),
``_events`` (what a run's history says), ``_bars`` (the bars, from the rows), ``_reports``
(a report per suite, its record), ``_subjects``, ``_backends``, ``_swarm`` (the suites),
``_markdown`` (the tables) and ``_records`` (where reports are kept).
"""

from lab.campaigns.bench._backends import BACKEND_TRIALS, backends
from lab.campaigns.bench._bars import against_uv
from lab.campaigns.bench._markdown import markdown
from lab.campaigns.bench._records import append_section, save
from lab.campaigns.bench._reports import (
    BackendsReport,
    Report,
    SubjectsReport,
    SwarmReport,
    claims,
    failed,
)
from lab.campaigns.bench._rows import (
    LOCK_FREE_UV,
    BackendFigures,
    ReuseHit,
    SubjectRow,
    Suite,
    SwarmRow,
)
from lab.campaigns.bench._subjects import MEASURED, subjects
from lab.campaigns.bench._swarm import SWARM_RUNNERS, swarm
from lab.campaigns.bench._workloads import (
    WORKLOADS,
    Workload,
    cell_scenario,
    real_workloads,
    workloads,
)

__all__ = [
    "BACKEND_TRIALS",
    "LOCK_FREE_UV",
    "MEASURED",
    "SWARM_RUNNERS",
    "WORKLOADS",
    "BackendFigures",
    "BackendsReport",
    "Report",
    "ReuseHit",
    "SubjectRow",
    "SubjectsReport",
    "Suite",
    "SwarmReport",
    "SwarmRow",
    "Workload",
    "against_uv",
    "append_section",
    "backends",
    "cell_scenario",
    "claims",
    "failed",
    "markdown",
    "real_workloads",
    "save",
    "subjects",
    "swarm",
    "workloads",
]
