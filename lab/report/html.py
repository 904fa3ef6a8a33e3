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

from lab import history
from lab import result as result_file
from lab.contract import LINE_PREFIX
from lab.errors import UsageError
from lab.report import chart, curves, timeline
from lab.report.timeline import BarKind, MarkKind

PAGE = "report.html"
COMPARE_FILE = "compare.json"
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
    timeline: timeline.Timeline
    logs: dict[str, list[str]]  # runner -> the last lines of its log (events left out)

    @property
    def title(self) -> str:
        if self.result is None:
            return self.directory.name
        return f"{self.result['scenario']} · {self.result['subject_label']}"


def read_run(directory: Path) -> RunPage:
    path = directory / history.FILENAME
    try:
        events = history.read(path)
    except FileNotFoundError:
        raise UsageError(
            f"{directory} is not a run directory: it has no {history.FILENAME}"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a history of events ({exc})") from None
    result = None
    if (directory / result_file.FILENAME).is_file():
        result = _read_json(directory / result_file.FILENAME)
    logs = {}
    for log in sorted((directory / "logs").glob("*.log")):
        lines = [
            line for line in log.read_text(errors="replace").splitlines() if LINE_PREFIX not in line
        ]
        logs[log.stem] = lines[-LOG_TAIL_LINES:]
    return RunPage(directory, result, timeline.build(events), logs)


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
    return _write(directory / PAGE, run_page(directory))


def _link(page: Path, target: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def write_compare(directory: Path, runs: Sequence[Path]) -> Path:
    """Record which runs a compare made (``compare.json``) and render its page."""
    directory.mkdir(parents=True, exist_ok=True)
    listed = {"runs": [_link(directory / COMPARE_FILE, r) for r in runs]}
    _write(directory / COMPARE_FILE, json.dumps(listed, indent=2) + "\n")
    return render_compare(directory)


def render_compare(directory: Path) -> Path:
    listed = _read_json(directory / COMPARE_FILE)["runs"]
    pages = [read_run((directory / r).resolve()) for r in listed]
    for p in pages:
        render_run(p.directory)
    sections = [(p.title, p.timeline) for p in pages]
    drawn = chart.layout(sections)
    links = [_link(directory / PAGE, p.directory / PAGE) for p in pages]
    html = (
        _environment()
        .get_template("compare.html.j2")
        .render(pages=list(zip(pages, links, strict=True)), chart=drawn)
    )
    return _write(directory / PAGE, html)


def render_matrix(directory: Path) -> Path:
    matrix = _read_json(directory / "matrix.json")
    cells = matrix["cells"]
    for cell in cells:
        if cell["run_id"] and (directory / "runs" / cell["run_id"] / history.FILENAME).is_file():
            render_run(directory / "runs" / cell["run_id"])
            cell["link"] = f"runs/{cell['run_id']}/{PAGE}"
        else:
            cell["link"] = None
    templates = sorted({c["template"] for c in cells})
    columns = sorted({(c["topology"], c["subject"]) for c in cells})
    grid = {(c["template"], c["topology"], c["subject"]): c for c in cells}
    html = (
        _environment()
        .get_template("matrix.html.j2")
        .render(matrix=matrix, templates=templates, columns=columns, grid=grid)
    )
    return _write(directory / PAGE, html)


def render_campaign(directory: Path) -> Path:
    campaign = _read_json(directory / "campaign.json")
    for result in campaign["results"]:
        result["links"] = []
        for run in result["runs"]:
            if (directory / run / history.FILENAME).is_file():
                render_run(directory / run)
                result["links"].append((Path(run).name, f"{run}/{PAGE}"))
    html = _environment().get_template("campaign.html.j2").render(campaign=campaign)
    return _write(directory / PAGE, html)


def render_catalog(directory: Path) -> Path:
    catalog = _read_json(directory / "catalog.json")
    for cell in catalog["cells"]:
        run = cell["run"]
        cell["link"] = None
        if run and (directory / run / history.FILENAME).is_file():
            render_run(directory / run)
            cell["link"] = f"{run}/{PAGE}"
    html = _environment().get_template("catalog.html.j2").render(catalog=catalog)
    return _write(directory / PAGE, html)


def render_demo(directory: Path) -> Path:
    demo = _read_json(directory / "demo.json")
    for scene in demo["scenes"]:
        render_compare((directory / scene["page"]).parent)
    html = _environment().get_template("demo.html.j2").render(demo=demo)
    return _write(directory / PAGE, html)


def render_bench(directory: Path) -> Path:
    """The subjects suite's page, with a chart per workload (also written beside it as
    ``chart-<workload>.svg``, for documents); the backends and swarm suites' figures."""
    found = _read_json(directory / "bench.json")
    env = _environment()
    charts = {}
    links: dict[str, str | None] = {}
    if "workloads" in found:  # the subjects suite
        labels = list(dict.fromkeys(r["subject"] for r in found["rows"]))
        macros: Any = env.get_template("_curves.svg.j2").module
        for w in found["workloads"]:
            rows = [r for r in found["rows"] if r["workload"] == w["name"]]
            charts[w["name"]] = curves.chart(f"{w['name']}: makespan against N", rows, labels)
            svg = macros.curves(charts[w["name"]])
            _write(directory / f"chart-{w['name']}.svg", str(svg).strip() + "\n")
    for r in [*found.get("rows", []), *found.get("reuse", [])]:  # the runs, each its page
        page = directory.parent / r["run_id"] / PAGE
        links[r["run_id"]] = f"../{r['run_id']}/{PAGE}" if page.is_file() else None
    html = env.get_template("bench.html.j2").render(bench=found, charts=charts, links=links)
    return _write(directory / PAGE, html)


_KINDS: list[tuple[str, Callable[[Path], Path]]] = [
    (history.FILENAME, render_run),
    (COMPARE_FILE, render_compare),
    ("matrix.json", render_matrix),
    ("campaign.json", render_campaign),
    ("catalog.json", render_catalog),
    ("demo.json", render_demo),
    ("bench.json", render_bench),
]


def render(directory: Path) -> Path:
    """Render the page of whatever ``directory`` holds: a run, a compare, a matrix, a fault
    campaign, the catalog or a demo (and the pages of the runs it holds)."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: no such directory")
    for marker, renderer in _KINDS:
        if (directory / marker).is_file():
            try:
                return renderer(directory)
            except (KeyError, TypeError, jinja2.UndefinedError) as exc:
                raise UsageError(
                    f"{directory}: its {marker} or a file it names lacks {exc} "
                    "(written by another version of cachelab?)"
                ) from None
    expected = ", ".join(marker for marker, _ in _KINDS)
    raise UsageError(
        f"{directory} holds no run, compare, matrix, campaign, catalog, demo or benchmark "
        f"(none of {expected})"
    )
