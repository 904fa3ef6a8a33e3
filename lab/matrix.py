"""The backend matrix: template × builder × topology, two runners each, in one run.

Each cell gets a correctness verdict from its history, independent of the builder's own
exit codes: every runner's install check passed, no exclusive lock (cache or tree) was ever
held by two runners at once, and nothing was left in a scratch directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import history, metrics, orchestrator, scenario, template
from lab.errors import LabError
from lab.history import CHECK
from lab.result import RunResult
from lab.runners.base import Backend
from lab.toolchain import Toolchain

TOPOLOGIES = ("same-path", "shared-tree")


@dataclass(frozen=True)
class Cell:
    template: str
    builder: str
    topology: str
    status: str
    ratio: float | None
    longest_wait_s: float
    longest_hold_s: float
    serialized: bool
    verdict: str  # valid, invalid, unknown
    reasons: list[str]
    run_id: str


def judge(
    events: list[history.Event], runners: int, status: str, cache: Path
) -> tuple[str, list[str]]:
    """valid / invalid / unknown, with the reasons, from the history and the final cache."""
    if status in ("timeout", "interrupted"):
        return "unknown", [f"the run ended early: {status}"]
    reasons = []
    checked = {e.runner for e in events if e.op == CHECK and e.phase == "ok"}
    for i in range(1, runners + 1):
        if f"runner-{i}" not in checked:
            reasons.append(f"runner-{i}: no passing install check")
    overlaps = metrics.overlapping_holds(metrics.lock_spans(events))
    reasons += [f"{a.runner} and {b.runner} held {a.key} at once" for a, b in overlaps]
    scratch = cache / "tmp"
    if scratch.is_dir() and any(p.is_dir() for p in scratch.iterdir()):
        reasons.append("scratch directories left in the cache")
    return ("invalid" if reasons else "valid"), reasons


def _run_cell(
    s: scenario.Scenario, tc: Toolchain, backend: Backend, runs_dir: Path
) -> tuple[RunResult | None, str, list[str]]:
    """Run one cell and judge it; a cell that cannot run is "unknown", not the matrix's end."""
    try:
        result = orchestrator.run(s, backend, tc, runs_dir)
    except LabError as exc:
        return None, "unknown", [str(exc)]
    run_dir = runs_dir / result.run_id
    events = history.read(run_dir / "history.jsonl")
    verdict, reasons = judge(events, s.runners, result.status, run_dir / "cache")
    return result, verdict, reasons


def run(
    tc: Toolchain,
    backend: Backend,
    runs_dir: Path,
    *,
    templates: Sequence[str],
    builders: Sequence[str] = scenario.COMPARED_BUILDERS,
    topologies: Sequence[str] = TOPOLOGIES,
    build_delay: float = 2.0,
    log: Callable[[str], None] = print,
) -> tuple[Path, list[Cell]]:
    # Every cell's scenario and toolchain are checked before anything is written.
    plans = [
        scenario.load(
            scenario.ISSUE_SCENARIO,
            [
                f"template={tmpl}",
                f"builder={builder}",
                f"topology={topology}",
                f"build_delay={build_delay}",
                "runners=2",
            ],
        )
        for tmpl in templates
        for topology in topologies
        for builder in builders
    ]
    tc.check(crates=any(template.get(t).vendor_crates for t in templates))
    out = runs_dir / f"matrix-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    cells: list[Cell] = []
    try:
        for s in plans:
            result, verdict, reasons = _run_cell(s, tc, backend, out / "runs")
            cell = Cell(
                template=s.template,
                builder=s.builder,
                topology=s.topology.value,
                status=result.status if result else "error",
                ratio=result.ratio if result else None,
                longest_wait_s=result.longest_wait.wait_s
                if result and result.longest_wait
                else 0.0,
                longest_hold_s=result.longest_hold_s if result else 0.0,
                serialized=result.serialized if result else False,
                verdict=verdict,
                reasons=reasons,
                run_id=result.run_id if result else "",
            )
            cells.append(cell)
            log(
                f"{cell.template} · {cell.topology} · {cell.builder}: {cell.status}, "
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
    return out, cells


def _cell_text(cell: Cell) -> str:
    if cell.status != "ok":
        return f"**{cell.status}** ({cell.verdict})"
    ratio = f"{cell.ratio:.2f}×" if cell.ratio is not None else "-"
    if cell.serialized:
        lock = f"wait {cell.longest_wait_s:.1f} s"
    else:
        lock = f"hold {cell.longest_hold_s * 1000:.1f} ms"
    return f"ok {ratio}, {lock}, {cell.verdict}"


def markdown(cells: Sequence[Cell], backend: str, build_delay: float) -> str:
    builders = list(dict.fromkeys(c.builder for c in cells))
    lines = [
        "| template | topology | " + " | ".join(builders) + " |",
        "|---|---|" + "---|" * len(builders),
    ]
    rows: dict[tuple[str, str], dict[str, Cell]] = {}
    for c in cells:
        rows.setdefault((c.template, c.topology), {})[c.builder] = c
    for (tmpl, topology), by_builder in rows.items():
        texts = [_cell_text(by_builder[b]) if b in by_builder else "" for b in builders]
        lines.append(f"| {tmpl} | {topology} | " + " | ".join(texts) + " |")
    lines.append("")
    lines.append(
        f"2 runners, {backend} backend, build delay {build_delay} s. Ratio: makespan over one "
        "build; wait: the longest wait for a lock, the tree lock of a shared tree included "
        "(when a runner sat out half a build or more); hold: the longest hold of a cache lock. "
        "valid: every install check passed and no lock was held twice at once."
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
            if text.startswith("@cachelab"):
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
            s = scenario.load(
                scenario.ISSUE_SCENARIO,
                [
                    f"template={template_name}",
                    "builder=narrow",
                    "topology=shared-tree",
                    f"build_delay={build_delay}",
                    f"tree_lock={str(tree_lock).lower()}",
                ],
            )
            result, verdict, reasons = _run_cell(s, tc, backend, out / "runs")
            if result is None or verdict != "valid" or result.status != "ok":
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
