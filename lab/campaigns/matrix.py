"""The backend matrix: template × subject × topology, two runners each, in one run.

Each cell gets the independent checker's verdict (``lab.check``): every runner has its own
checkout's install, the final cache is intact, no exclusive lock (cache or tree) was ever held
by two runners at once, nothing was left in a scratch directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import scenario, subjects
from lab.contract import parse_event_line
from lab.errors import LabError
from lab.report import html
from lab.result import RunResult
from lab.run import execute
from lab.runners.base import Backend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus, Verdict

TOPOLOGIES = (scenario.Topology.SAME_PATH, scenario.Topology.SHARED_TREE)


@dataclass(frozen=True)
class Cell:
    template: str
    subject: str
    topology: scenario.Topology
    status: RunStatus | None  # None: the cell could not run
    ratio: float | None
    longest_wait_s: float
    longest_hold_s: float
    serialized: bool
    coalesced: bool
    verdict: Verdict
    reasons: list[str]
    run_id: str


def _run_cell(
    s: scenario.Scenario, tc: Toolchain, backend: Backend, runs_dir: Path
) -> tuple[RunResult | None, Verdict, list[str]]:
    """Run one cell; the checker judges it. A cell that cannot run is "unknown", not the
    matrix's end."""
    try:
        result = execute(s, backend, tc, runs_dir)
    except LabError as exc:
        return None, Verdict.UNKNOWN, [str(exc)]
    reasons = [v.message for v in result.violations] + [u.reason for u in result.unknowns]
    return result, result.verdict, reasons


def run(
    tc: Toolchain,
    backend: Backend,
    runs_dir: Path,
    *,
    templates: Sequence[str],
    subject_names: Sequence[str] = subjects.COMPARED,
    topologies: Sequence[str] = TOPOLOGIES,
    build_delay: float = 2.0,
    log: Callable[[str], None] = print,
) -> tuple[Path, list[Cell]]:
    # Every cell's scenario and toolchain are checked before anything is written.
    plans = [
        scenario.load_named(
            scenario.ISSUE_SCENARIO,
            [
                f"template={tmpl}",
                f"subject={subject}",
                f"topology={topology}",
                f"build_delay={build_delay}",
                "runners=2",
            ],
        )
        for tmpl in templates
        for topology in topologies
        for subject in subject_names
    ]
    out = runs_dir / f"matrix-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    cells: list[Cell] = []
    try:
        for s in plans:
            result, verdict, reasons = _run_cell(s, tc, backend, out / "runs")
            wait = result.longest_wait if result else None
            cell = Cell(
                template=s.template,
                subject=s.subject,
                topology=s.topology,
                status=result.status if result else None,
                ratio=result.ratio if result else None,
                longest_wait_s=wait.wait_s if wait else 0.0,
                longest_hold_s=result.longest_hold_s if result else 0.0,
                serialized=result.serialized if result else False,
                coalesced=result.coalesced if result else False,
                verdict=verdict,
                reasons=reasons,
                run_id=result.run_id if result else "",
            )
            cells.append(cell)
            log(
                f"{cell.template} · {cell.topology} · {cell.subject}: {cell.status or 'error'}, "
                f"ratio {cell.ratio}, {cell.verdict}"
            )
    finally:  # an interrupted matrix still reports the cells it finished
        report = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "backend": backend.name,
            "runners": 2,
            "build_delay_s": build_delay,
            "cells": [asdict(c) for c in cells],
        }
        (out / "matrix.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "matrix.md").write_text(markdown(cells, backend.name, build_delay) + "\n")
        html.render_matrix(out)
    return out, cells


def _cell_text(cell: Cell) -> str:
    if cell.status is not RunStatus.OK:
        return f"**{cell.status or 'error'}** ({cell.verdict})"
    ratio = f"{cell.ratio:.2f}×" if cell.ratio is not None else "-"
    if cell.serialized:
        lock = f"wait {cell.longest_wait_s:.1f} s"
    elif cell.coalesced:
        lock = f"coalesced {cell.longest_wait_s:.1f} s"
    else:
        lock = f"hold {cell.longest_hold_s * 1000:.1f} ms"
    return f"ok {ratio}, {lock}, {cell.verdict}"


def markdown(cells: Sequence[Cell], backend: str, build_delay: float) -> str:
    names = list(dict.fromkeys(c.subject for c in cells))
    lines = [
        "| template | topology | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    rows: dict[tuple[str, str], dict[str, Cell]] = {}
    for c in cells:
        rows.setdefault((c.template, c.topology), {})[c.subject] = c
    for (tmpl, topology), by_subject in rows.items():
        texts = [_cell_text(by_subject[n]) if n in by_subject else "" for n in names]
        lines.append(f"| {tmpl} | {topology} | " + " | ".join(texts) + " |")
    lines.append("")
    lines.append(
        f"2 runners, {backend} backend, build delay {build_delay} s. Ratio: makespan over one "
        "build; wait: serialized, the longest wait for a lock (the tree lock of a shared tree "
        "included) when a runner sat out half a build or more and then built anyway; "
        "coalesced: such a wait that ended in reusing the holder's build or build env; hold: "
        "the longest hold of a lock taken to publish. valid: the checker found every runner "
        "with its own checkout's install, the cache intact and no lock held twice at once."
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class TrialSummary:
    tree_lock: bool
    trials: int
    failed_runs: int
    error_lines: list[str]


def _error_lines(run_dir: Path) -> list[str]:
    found = []
    for log in sorted((run_dir / "logs").glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            text = line.split(" ", 2)[-1]
            if parse_event_line(text) is not None:
                continue
            if "error" in text.lower() or "Traceback" in text:
                found.append(f"{log.stem}: {text.strip()}")
    return found


def shared_tree_trials(
    tc: Toolchain,
    backend: Backend,
    runs_dir: Path,
    *,
    trials: int = 10,
    template_name: str = "setuptools",
    build_delay: float = 0.5,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """The reference builder on one shared setuptools tree, with and without its tree lock,
    alternating. Reports what was seen; a failure that does not happen is not invented."""
    out = runs_dir / f"trials-shared-tree-{time.strftime('%Y%m%d-%H%M%S')}"
    failed = {False: 0, True: 0}
    errors: dict[bool, list[str]] = {False: [], True: []}
    for trial in range(1, trials + 1):
        for tree_lock in (False, True):
            s = scenario.load_named(
                scenario.ISSUE_SCENARIO,
                [
                    f"template={template_name}",
                    "subject=narrow",
                    "topology=shared-tree",
                    f"build_delay={build_delay}",
                    f"tree_lock={str(tree_lock).lower()}",
                ],
            )
            result, verdict, reasons = _run_cell(s, tc, backend, out / "runs")
            if result is None or verdict is not Verdict.VALID or result.status is not RunStatus.OK:
                failed[tree_lock] += 1
                errors[tree_lock] += (
                    _error_lines(out / "runs" / result.run_id) if result else reasons
                )
            log(
                f"trial {trial}/{trials}, tree lock {'on' if tree_lock else 'off'}: "
                f"{result.status if result else 'error'}, {verdict}"
            )
    report = {
        "template": template_name,
        "backend": backend.name,
        "build_delay_s": build_delay,
        "results": [
            asdict(TrialSummary(lock, trials, failed[lock], errors[lock][:20]))
            for lock in (False, True)
        ],
    }
    (out / "trials.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
