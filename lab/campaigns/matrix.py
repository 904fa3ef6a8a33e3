"""The backend matrix: template × subject × topology, two runners each, in one run.

Each cell gets the independent checker's verdict (``lab.check``): every runner has its own
checkout's install, the final cache is intact, no exclusive lock (cache or tree) was ever held
by two runners at once, nothing was left in a scratch directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import scenario, subjects
from lab.campaigns.claims import Claim, claims_markdown, commit
from lab.contract import parse_event_line
from lab.errors import LabError
from lab.refbuilder import DEFAULT_POLICY
from lab.report import html
from lab.result import RunResult, representative
from lab.run import execute
from lab.runners.base import Backend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus, Verdict

TOPOLOGIES = (scenario.Topology.SAME_PATH, scenario.Topology.SHARED_TREE)


# The bar of issue 14: in every row, the default policy's makespan (the median trial) at most
# this much over uv's.
BAR = 1.03


@dataclass(frozen=True)
class Cell:
    """One template × topology × subject, run ``trials`` times: its figures are the median
    trial's (``result.representative``), or the first failed one's."""

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
    makespan_s: float | None = None
    makespans_s: list[float] = field(default_factory=list)  # every trial's, in run order


def _execute(
    s: scenario.Scenario, tc: Toolchain, backend: Backend, runs_dir: Path
) -> RunResult | LabError:
    """One run; a run that cannot start is the cell's result ("unknown"), not the matrix's
    end."""
    try:
        return execute(s, backend, tc, runs_dir)
    except LabError as exc:
        return exc


def _said(ran: RunResult | LabError) -> str:
    if isinstance(ran, LabError):
        return f"error: {ran}"
    return f"{ran.status}, makespan {ran.makespan_s} s, {ran.verdict}"


def _cell(s: scenario.Scenario, trials: Sequence[RunResult | LabError]) -> Cell:
    errors = [str(t) for t in trials if isinstance(t, LabError)]
    results = [t for t in trials if not isinstance(t, LabError)]
    if errors or not results:
        return Cell(
            template=s.template,
            subject=s.subject,
            topology=s.topology,
            status=None,
            ratio=None,
            longest_wait_s=0.0,
            longest_hold_s=0.0,
            serialized=False,
            coalesced=False,
            verdict=Verdict.UNKNOWN,
            reasons=errors,
            run_id="",
        )
    chosen = representative(results)
    wait = chosen.longest_wait
    return Cell(
        template=s.template,
        subject=s.subject,
        topology=s.topology,
        status=chosen.status,
        ratio=chosen.ratio,
        longest_wait_s=wait.wait_s if wait else 0.0,
        longest_hold_s=chosen.longest_hold_s,
        serialized=chosen.serialized,
        coalesced=chosen.coalesced,
        verdict=chosen.verdict,
        reasons=[v.message for v in chosen.violations] + [u.reason for u in chosen.unknowns],
        run_id=chosen.run_id,
        makespan_s=chosen.makespan_s,
        makespans_s=[r.makespan_s for r in results if r.makespan_s is not None],
    )


def run(
    tc: Toolchain,
    backend: Backend,
    runs_dir: Path,
    *,
    templates: Sequence[str],
    subject_names: Sequence[str] = subjects.COMPARED,
    topologies: Sequence[str] = TOPOLOGIES,
    build_delay: float = 2.0,
    trials: int = 1,
    log: Callable[[str], None] = print,
) -> tuple[Path, list[Cell]]:
    """Every cell ``trials`` times. A row's subjects take turns trial by trial, so that the
    ones compared are measured in the same minutes."""
    # Every cell's scenario and toolchain are checked before anything is written.
    rows = [
        [
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
            for subject in subject_names
        ]
        for tmpl in templates
        for topology in topologies
    ]
    out = runs_dir / f"matrix-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    at_commit = commit()  # the code that runs, whatever the checkout becomes meanwhile
    cells: list[Cell] = []
    try:
        for row in rows:
            done: list[list[RunResult | LabError]] = [[] for _ in row]
            for trial in range(1, trials + 1):
                for s, runs in zip(row, done, strict=True):
                    runs.append(_execute(s, tc, backend, out / "runs"))
                    log(
                        f"{s.template} · {s.topology} · {s.subject} ({trial}/{trials}): "
                        f"{_said(runs[-1])}"
                    )
            cells += [_cell(s, runs) for s, runs in zip(row, done, strict=True)]
    finally:  # an interrupted matrix still reports the rows it finished
        report = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": at_commit,
            "backend": backend.name,
            "runners": 2,
            "build_delay_s": build_delay,
            "trials": trials,
            "default_policy": str(DEFAULT_POLICY),
            "cells": [asdict(c) for c in cells],
        }
        report["claims"] = [asdict(c) for c in bars(cells)]
        (out / "matrix.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "matrix.md").write_text(markdown(report) + "\n")
        html.render_matrix(out)
    return out, cells


def _rows(cells: Sequence[Cell]) -> dict[tuple[str, str], dict[str, Cell]]:
    """The cells by row (template, topology), each row's by subject, in the order run."""
    rows: dict[tuple[str, str], dict[str, Cell]] = {}
    for c in cells:
        rows.setdefault((c.template, c.topology), {})[c.subject] = c
    return rows


def bars(cells: Sequence[Cell], default: str = str(DEFAULT_POLICY)) -> list[Claim]:
    """Issue 14's bar in every row that has both: the default policy's makespan at most
    ``BAR`` × uv's, both the median trial."""
    found = []
    for (tmpl, topology), by_subject in _rows(cells).items():
        mine, uv = by_subject.get(default), by_subject.get("uv")
        if mine is None or uv is None:
            continue
        claim = f"{tmpl}, {topology}: {default} ≤ {BAR} × uv"
        if mine.status is not RunStatus.OK or mine.makespan_s is None:
            found.append(Claim(claim, "its run failed", False))
        elif uv.status is not RunStatus.OK or not uv.makespan_s:
            found.append(Claim(claim, "n/a: uv's run failed", None))
        else:
            ratio = mine.makespan_s / uv.makespan_s
            found.append(Claim(claim, f"{ratio:.2f}", ratio <= BAR))
    return found


def _cell_text(cell: Cell) -> str:
    if cell.status is not RunStatus.OK:
        return f"**{cell.status or 'error'}** ({cell.verdict})"
    ratio = f"{cell.ratio:.2f}×" if cell.ratio is not None else "-"
    if cell.makespan_s is not None:
        ratio += f" ({cell.makespan_s:.1f} s)"
    if cell.serialized:
        lock = f"wait {cell.longest_wait_s:.1f} s"
    elif cell.coalesced:
        lock = f"coalesced {cell.longest_wait_s:.1f} s"
    else:
        lock = f"hold {cell.longest_hold_s * 1000:.1f} ms"
    return f"ok {ratio}, {lock}, {cell.verdict}"


def markdown(report: Mapping[str, Any]) -> str:
    """The table of a saved matrix report, then its bars."""
    cells = [Cell(**c) for c in report["cells"]]
    names = list(dict.fromkeys(c.subject for c in cells))
    lines = [
        "| template | topology | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for (tmpl, topology), by_subject in _rows(cells).items():
        texts = [_cell_text(by_subject[n]) if n in by_subject else "" for n in names]
        lines.append(f"| {tmpl} | {topology} | " + " | ".join(texts) + " |")
    lines.append("")
    trials = report.get("trials", 1)
    lines.append(
        f"2 runners, {report['backend']} backend, build delay {report['build_delay_s']} s, "
        + (f"the median of {trials} trials per cell. " if trials > 1 else "one trial per cell. ")
        + "Ratio: makespan over one build; wait: serialized, the longest wait for a lock (the "
        "tree lock of a shared tree included) when a runner sat out half a build or more and "
        "then built anyway; coalesced: such a wait that ended in reusing the holder's build or "
        "build env; hold: the longest hold of a lock taken to publish. valid: the checker found "
        "every runner with its own checkout's install, the cache intact and no lock held twice "
        "at once."
    )
    if report.get("claims"):
        lines += ["", *claims_markdown(report["claims"], "####")]
    return "\n".join(lines).rstrip("\n")


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
            result = _execute(s, tc, backend, out / "runs")
            if isinstance(result, LabError):
                failed[tree_lock] += 1
                errors[tree_lock].append(str(result))
            elif result.verdict is not Verdict.VALID or result.status is not RunStatus.OK:
                failed[tree_lock] += 1
                errors[tree_lock] += _error_lines(out / "runs" / result.run_id)
            log(
                f"trial {trial}/{trials}, tree lock {'on' if tree_lock else 'off'}: "
                + (
                    "error"
                    if isinstance(result, LabError)
                    else f"{result.status}, {result.verdict}"
                )
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


def record(out: Path, doc: Path) -> Path:
    """Append the matrix saved in ``out`` to the Markdown file ``doc``, as a dated section."""
    report = json.loads((out / "matrix.json").read_text())
    section = [
        "",
        f"## `cachelab matrix`, {report['when']}, commit {report.get('commit', 'unknown')}",
        "",
        markdown(report),
        "",
    ]
    with doc.open("a", encoding="utf-8") as f:
        f.write("\n".join(section))
    return doc
