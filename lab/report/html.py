"""HTML reports: a page next to every run, compare, matrix and campaign, made from its
directory alone.

Pages are rendered with jinja2, autoescape on: build logs and everything a subject says are
untrusted input. They are self-contained (inline CSS and SVG, no script at all, and a
Content-Security-Policy that forbids fetching anything) and deterministic: the same directory
gives the same bytes, so a page can be rendered again at any time with ``cachelab report``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from lab.errors import UsageError
from lab.report import chart, curves, timeline
from lab.report.lanes import BarKind, MarkKind, Timeline
from lab.rundir import CampaignDir, CampaignKind, RunDir, read_history, read_log

# Each runner's log, last lines only: the full log is in the run directory.
LOG_TAIL_LINES = 40

_PAGES = Path(__file__).parent / "pages"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_PAGES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(BarKind=BarKind, MarkKind=MarkKind, seconds=_seconds)
    return env


def _seconds(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f} s"


@dataclass(frozen=True)
class RunPage:
    """What a run's page shows, read from its directory."""

    directory: Path
    result: dict[str, Any] | None  # None: the run ended before it wrote one
    timeline: Timeline
    logs: dict[str, list[str]]  # runner -> the last lines of its log (events left out)

    @property
    def title(self) -> str:
        if self.result is None:
            return self.directory.name
        return f"{self.result['scenario']} · {self.result['subject_label']}"


def read_run(directory: Path) -> RunPage:
    run_dir = RunDir(directory)
    try:
        events = read_history(run_dir.history)
    except FileNotFoundError:
        raise UsageError(
            f"{directory} is not a run directory: it has no {run_dir.history.name}"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{run_dir.history}: not a history of events ({exc})") from None
    result = _read_json(run_dir.result) if run_dir.result.is_file() else None
    logs = {}
    for runner, path in run_dir.runner_logs().items():
        lines = [str(line) for line in read_log(path) if not line.is_event]
        logs[runner] = lines[-LOG_TAIL_LINES:]
    return RunPage(directory, result, timeline.build(events), logs)


def _has_run(directory: Path) -> bool:
    return RunDir(directory).history.is_file()


def _write(path: Path, text: str) -> Path:
    """Write the page whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None


def run_page(directory: Path) -> str:
    """A run's page, as text."""
    page = read_run(directory)
    drawn = chart.layout([("", page.timeline)])
    return _environment().get_template("run.html.j2").render(page=page, chart=drawn)


def render_run(directory: Path) -> Path:
    return _write(RunDir(directory).page, run_page(directory))


def _link(page: Path, target: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def write_compare(compared: CampaignDir, runs: Sequence[Path]) -> Path:
    """Record which runs a compare drew and render its page."""
    compared.path.mkdir(parents=True, exist_ok=True)
    listed = {"runs": [_link(compared.record, r) for r in runs]}
    _write(compared.record, json.dumps(listed, indent=2) + "\n")
    return render_compare(compared)


def render_compare(compared: CampaignDir) -> Path:
    listed = _read_json(compared.record)["runs"]
    pages = [read_run((compared.path / r).resolve()) for r in listed]
    for p in pages:
        render_run(p.directory)
    sections = [(p.title, p.timeline) for p in pages]
    drawn = chart.layout(sections)
    links = [_link(compared.page, RunDir(p.directory).page) for p in pages]
    html = (
        _environment()
        .get_template("compare.html.j2")
        .render(pages=list(zip(pages, links, strict=True)), chart=drawn)
    )
    return _write(compared.page, html)


def _run_link(campaign: CampaignDir, run: Path) -> str | None:
    """The link to a run's page, drawn now, from the campaign's page; None where the run
    left no history."""
    if not _has_run(run):
        return None
    return _link(campaign.page, render_run(run))


def render_matrix(matrix: CampaignDir) -> Path:
    found = _read_json(matrix.record)
    cells = found["cells"]
    for cell in cells:
        cell["link"] = _run_link(matrix, matrix.runs / cell["run_id"]) if cell["run_id"] else None
    templates = sorted({c["template"] for c in cells})
    columns = sorted({(c["topology"], c["subject"]) for c in cells})
    grid = {(c["template"], c["topology"], c["subject"]): c for c in cells}
    html = (
        _environment()
        .get_template("matrix.html.j2")
        .render(matrix=found, templates=templates, columns=columns, grid=grid)
    )
    return _write(matrix.page, html)


def render_torture(torture: CampaignDir) -> Path:
    campaign = _read_json(torture.record)
    for result in campaign["results"]:
        result["links"] = []
        for run in result["runs"]:
            link = _run_link(torture, torture.path / run)
            if link is not None:
                result["links"].append((Path(run).name, link))
    html = _environment().get_template("campaign.html.j2").render(campaign=campaign)
    return _write(torture.page, html)


def render_catalog(catalog: CampaignDir) -> Path:
    found = _read_json(catalog.record)
    for cell in found["cells"]:
        cell["link"] = _run_link(catalog, catalog.path / cell["run"]) if cell["run"] else None
    html = _environment().get_template("catalog.html.j2").render(catalog=found)
    return _write(catalog.page, html)


def render_demo(demo: CampaignDir) -> Path:
    found = _read_json(demo.record)
    for scene in found["scenes"]:
        render_compare(CampaignDir((demo.path / scene["page"]).parent, CampaignKind.COMPARE))
    html = _environment().get_template("demo.html.j2").render(demo=found)
    return _write(demo.page, html)


def render_bench(bench: CampaignDir) -> Path:
    """The subjects suite's page, with a chart per workload (also written beside it, for
    documents); the backends and swarm suites' figures."""
    found = _read_json(bench.record)
    env = _environment()
    charts = {}
    if "workloads" in found:  # the subjects suite
        labels = list(dict.fromkeys(r["subject"] for r in found["rows"]))
        macros: Any = env.get_template("_curves.svg.j2").module
        for w in found["workloads"]:
            rows = [r for r in found["rows"] if r["workload"] == w["name"]]
            charts[w["name"]] = curves.chart(f"{w['name']}: makespan against N", rows, labels)
            svg = macros.curves(charts[w["name"]])
            _write(bench.chart(w["name"]), str(svg).strip() + "\n")
    links = {
        r["run_id"]: _run_link(bench, bench.runs / r["run_id"])
        for r in [*found.get("rows", []), *found.get("reuse", [])]
    }
    html = env.get_template("bench.html.j2").render(bench=found, charts=charts, links=links)
    return _write(bench.page, html)


_RENDERERS: dict[CampaignKind, Callable[[CampaignDir], Path]] = {
    CampaignKind.COMPARE: render_compare,
    CampaignKind.MATRIX: render_matrix,
    CampaignKind.TORTURE: render_torture,
    CampaignKind.CATALOG: render_catalog,
    CampaignKind.DEMO: render_demo,
    CampaignKind.BENCH: render_bench,
}


def render(directory: Path) -> Path:
    """Render the page of whatever ``directory`` holds: a run, a compare, a matrix, a fault
    campaign, the catalog, a demo or a benchmark (and the pages of the runs it holds)."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such directory")
    run = RunDir(directory)
    has_run = _has_run(directory)
    campaign = None if has_run else CampaignDir.find(directory)
    if not has_run and (campaign is None or campaign.kind not in _RENDERERS):
        records = ", ".join(CampaignDir(directory, kind).record.name for kind in _RENDERERS)
        raise UsageError(
            f"{directory} holds no run ({run.history.name}) and no record of a compare or "
            f"campaign ({records})"
        )
    try:
        if campaign is None:
            return render_run(directory)
        return _RENDERERS[campaign.kind](campaign)
    except (KeyError, TypeError, jinja2.UndefinedError) as exc:
        record = run.result if campaign is None else campaign.record
        raise UsageError(
            f"{directory}: its {record.name} or a file it names lacks {exc} "
            "(written by another version of cachelab?)"
        ) from None
