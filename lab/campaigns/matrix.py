"""The backend matrix: template × subject × topology, two runners each, in one campaign.

Each cell gets the independent checker's verdict (``lab.check``): every runner has its own
checkout's install, the final cache is intact, no exclusive lock (cache or tree) was ever held
by two runners at once, nothing was left in a scratch directory. Each row is held to one bar:
the default policy's makespan at most ``BAR`` × uv's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lab import scenario, subjects
from lab.campaigns.claims import Claim, claims_markdown, commit
from lab.errors import LabError
from lab.log import log
from lab.refbuilder import DEFAULT_POLICY
from lab.report import html
from lab.result import RunResult, representative
from lab.run import Lab
from lab.rundir import CampaignDir, CampaignKind
from lab.vocabulary import RunStatus, Topology, Verdict

TOPOLOGIES = (Topology.SAME_PATH, Topology.SHARED_TREE)
RUNNERS = 2
# In every row, the default policy's makespan (the median trial) at most this much over uv's.
BAR = 1.03


@dataclass(frozen=True)
class Cell:
    """One template × topology × subject, run ``trials`` times: its figures are the median
    trial's (``result.representative``), or the first failed one's."""

    template: str
    subject: str
    topology: Topology
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


@dataclass(frozen=True)
class Matrix:
    when: str
    commit: str
    backend: str
    build_delay_s: float
    trials: int
    default_policy: str
    cells: list[Cell]
    runners: int = RUNNERS

    @property
    def claims(self) -> list[Claim]:
        return bars(self.cells, self.default_policy)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"claims": [asdict(c) for c in self.claims]}


def _execute(lab: Lab, s: scenario.Scenario) -> RunResult | LabError:
    """One run; a run that cannot start is the cell's result ("unknown"), not the matrix's
    end."""
    try:
        return lab.run(s)
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
    lab: Lab,
    *,
    templates: Sequence[str],
    subject_names: Sequence[str] = subjects.COMPARED,
    topologies: Sequence[str] = TOPOLOGIES,
    build_delay: float = 2.0,
    trials: int = 1,
) -> tuple[CampaignDir, Matrix]:
    """Every cell ``trials`` times, in a campaign directory of its own. A row's subjects take
    turns trial by trial, so that the ones compared are measured in the same minutes. An
    interrupted matrix still records, and draws, the rows it finished."""
    # Every cell's scenario is checked before anything runs.
    rows = [
        [
            scenario.load_named(
                scenario.ISSUE_SCENARIO,
                [
                    f"template={tmpl}",
                    f"subject={subject}",
                    f"topology={topology}",
                    f"build_delay={build_delay}",
                    f"runners={RUNNERS}",
                ],
            )
            for subject in subject_names
        ]
        for tmpl in templates
        for topology in topologies
    ]
    matrix = Matrix(
        when=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        commit=commit(),  # the code that runs, whatever the checkout becomes meanwhile
        backend=lab.backend.name,
        build_delay_s=build_delay,
        trials=trials,
        default_policy=str(DEFAULT_POLICY),
        cells=[],
    )
    out = CampaignDir.create(lab.runs_dir, CampaignKind.MATRIX)
    here = lab.under(out.runs)
    try:
        for row in rows:
            done: list[list[RunResult | LabError]] = [[] for _ in row]
            for trial in range(1, trials + 1):
                for s, runs in zip(row, done, strict=True):
                    runs.append(_execute(here, s))
                    said = _said(runs[-1])
                    log(f"{s.template} · {s.topology} · {s.subject} ({trial}/{trials}): {said}")
            matrix.cells.extend(_cell(s, runs) for s, runs in zip(row, done, strict=True))
    finally:
        save(matrix, out)
        html.render_matrix(out)
    return out, matrix


def save(matrix: Matrix, out: CampaignDir) -> None:
    out.record.write_text(json.dumps(matrix.to_dict(), indent=2) + "\n")
    out.summary.write_text(markdown(matrix) + "\n")


def _rows(cells: Sequence[Cell]) -> dict[tuple[str, str], dict[str, Cell]]:
    """The cells by row (template, topology), each row's by subject, in the order run."""
    rows: dict[tuple[str, str], dict[str, Cell]] = {}
    for c in cells:
        rows.setdefault((c.template, c.topology), {})[c.subject] = c
    return rows


def bars(cells: Sequence[Cell], default: str = str(DEFAULT_POLICY)) -> list[Claim]:
    """The bar in every row that has both: the default policy's makespan at most ``BAR`` ×
    uv's, both the median trial."""
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


def markdown(matrix: Matrix) -> str:
    """The table, then its bars."""
    names = list(dict.fromkeys(c.subject for c in matrix.cells))
    lines = [
        "| template | topology | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for (tmpl, topology), by_subject in _rows(matrix.cells).items():
        texts = [_cell_text(by_subject[n]) if n in by_subject else "" for n in names]
        lines.append(f"| {tmpl} | {topology} | " + " | ".join(texts) + " |")
    lines.append("")
    trials = matrix.trials
    lines.append(
        f"{matrix.runners} runners, {matrix.backend} backend, build delay "
        f"{matrix.build_delay_s} s, "
        + (f"the median of {trials} trials per cell. " if trials > 1 else "one trial per cell. ")
        + "Ratio: makespan over one build; wait: serialized, the longest wait for a lock (the "
        "tree lock of a shared tree included) when a runner sat out half a build or more and "
        "then built anyway; coalesced: such a wait that ended in reusing the holder's build or "
        "build env; hold: the longest hold of a lock taken to publish. valid: the checker found "
        "every runner with its own checkout's install, the cache intact and no lock held twice "
        "at once."
    )
    if matrix.claims:
        lines += ["", *claims_markdown(matrix.claims, "####")]
    return "\n".join(lines).rstrip("\n")


def append_section(matrix: Matrix, doc: Path) -> Path:
    """Append the matrix to the Markdown file ``doc``, as a dated section."""
    section = [
        "",
        f"## `cachelab matrix`, {matrix.when}, commit {matrix.commit}",
        "",
        markdown(matrix),
        "",
    ]
    with doc.open("a", encoding="utf-8") as f:
        f.write("\n".join(section))
    return doc


def failed(matrix: Matrix) -> bool:
    """Whether a bar of the matrix was not met."""
    return any(c.met is False for c in matrix.claims)
