"""The catalog of the bug family: every scenario that says what it expects, run per subject.

A scenario in the catalog carries ``[[expect]]`` entries: for a subject (and, where behaviour
changed between releases, a range of its versions) the outcome the checker must give and,
where it matters, whether runners waited on each other. Each cell is one run, judged by the
independent checker; it is ✓ where what was observed is what the scenario expects. An
expected outcome other than ``valid`` carries its reason, the upstream issue's word.

Everything goes into its campaign directory (``catalog-<time>/``): each cell's runs, the
record and its summary; its page links each run's timeline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import data, scenario, subjects
from lab.errors import ExitCode, LabError, UsageError
from lab.log import log
from lab.report import html
from lab.result import RunResult
from lab.run import Lab
from lab.rundir import CampaignDir, CampaignKind
from lab.subjects import Subject
from lab.vocabulary import Outcome

# uv as the issue saw it and as it is now, pip, and the reference builder
DEFAULT_SUBJECTS = ("uv@0.8.12", "uv@0.13.9", "pip", "narrow")


@dataclass(frozen=True)
class Cell:
    scenario: str
    subject: str
    expected: str  # "valid", "invalid, serialized", ...
    observed: str
    met: bool | None  # None: it could not run here (the reason says why)
    why: str  # the scenario's reason where the expected outcome is not valid
    run: str | None  # the run directory, relative to the catalog's
    reasons: list[str]  # the checker's violations and unknowns, or why it did not run


def entries() -> list[scenario.Scenario]:
    """The lab's scenarios that say what they expect."""
    found = [scenario.load(path) for path in sorted(data.scenarios_dir().glob("*.toml"))]
    return [s for s in found if s.expect]


def _chosen(only: Sequence[str]) -> list[tuple[scenario.Scenario, Path]]:
    """The catalog's scenarios named in ``only`` (a path names a file of one's own), each
    with its file; all of them where ``only`` is empty."""
    catalog = {s.name: s for s in entries()}
    if not only:
        return [(s, scenario.resolve_path(name)) for name, s in catalog.items()]
    chosen, unknown = [], []
    for item in only:
        path = scenario.resolve_path(item)
        if item in catalog:
            chosen.append((catalog[item], path))
        elif path.suffix == ".toml" and path.is_file():
            loaded = scenario.load(path)
            if not loaded.expect:
                raise UsageError(
                    f"{path}: no [[expect]]: the catalog runs what says what it expects"
                )
            chosen.append((loaded, path))
        else:
            unknown.append(item)
    if unknown:
        raise UsageError(
            f"not in the catalog: {unknown}; it holds {sorted(catalog)}, or name a file"
        )
    return chosen


def _describe(outcome: Outcome | str, serialized: bool | None) -> str:
    if serialized is None:
        return str(outcome)
    return f"{outcome}, {'serialized' if serialized else 'not serialized'}"


def _observed(result: RunResult, expected: scenario.Expectation) -> tuple[str, bool]:
    serialized = result.serialized if expected.serialized is not None else None
    met = result.outcome is expected.outcome and (
        expected.serialized is None or result.serialized == expected.serialized
    )
    return _describe(result.outcome, serialized), met


def run(
    lab: Lab,
    *,
    subject_names: Sequence[str] = DEFAULT_SUBJECTS,
    only: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> tuple[CampaignDir, list[Cell]]:
    """Every cell the catalog's scenarios expect something of, in a campaign directory of its
    own; an interrupted catalog still records, and draws, the cells it finished."""
    chosen = _chosen(only)
    canonical = [subjects.canonical(name) for name in subject_names]
    # every cell's scenario and subject is checked before anything runs
    planned = []
    for s, path in chosen:
        for name in canonical:
            resolved = scenario.load(path, [*overrides, f"subject={name}"])
            planned.append((s, resolved, subjects.make(name, resolved.subject_settings())))
    needed = {r for _, _, made in planned for r in made.needs.resources}
    for resource in sorted(needed):  # what is missing here stops the catalog before any run
        lab.toolchain.resource(resource)
    out = CampaignDir.create(lab.runs_dir, CampaignKind.CATALOG)
    cells: list[Cell] = []
    done: set[tuple[str, str]] = set()
    try:
        for entry, resolved, made in planned:
            wanted = entry.expectation(made.name)
            if wanted is None or (entry.name, made.name) in done:
                continue  # not this scenario's kind of subject, or run already (uv, uv@X)
            done.add((entry.name, made.name))
            cells.append(_cell(lab, out, entry, resolved, made, wanted))
    finally:
        record = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "backend": lab.backend.name,
            "subjects": canonical,
            "scenarios": {
                s.name: {"description": s.description, "source": s.source} for s, _ in chosen
            },
            "cells": [asdict(c) for c in cells],
            "summary": summary(cells),
        }
        out.record.write_text(json.dumps(record, indent=2) + "\n")
        out.summary.write_text(markdown(cells, lab.backend.name) + "\n")
        html.render_catalog(out)
    return out, cells


def _cell(
    lab: Lab,
    out: CampaignDir,
    entry: scenario.Scenario,
    resolved: scenario.Scenario,
    made: Subject,
    wanted: scenario.Expectation,
) -> Cell:
    """One cell: one run of ``resolved``, judged against what ``entry`` expects of it."""
    expected = _describe(wanted.outcome, wanted.serialized)
    part = out.part(f"{entry.name}-{made.name.replace('@', '-')}").runs
    try:
        result = lab.under(part).run(resolved)
    except LabError as exc:
        log(f"{entry.name} · {made.name}: skipped, it cannot run here: {exc}")
        return Cell(
            entry.name, made.name, expected, "did not run", None, wanted.why, None, [str(exc)]
        )
    observed, met = _observed(result, wanted)
    reasons = [v.message for v in result.violations] + [u.reason for u in result.unknowns]
    log(f"{entry.name} · {made.name}: expected {expected}, observed {observed} {_MARKS[met]}")
    run = str((part / result.run_id).relative_to(out.path))
    return Cell(entry.name, made.name, expected, observed, met, wanted.why, run, reasons)


def markdown(cells: Sequence[Cell], backend: str) -> str:
    lines = [
        f"The catalog on the {backend} backend: each cell one run, judged by the checker.",
        "",
        "| scenario | subject | expected | observed | | why |",
        "|---|---|---|---|---|---|",
    ]
    for c in cells:
        why = c.why.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {c.scenario} | {c.subject} | {c.expected} | {c.observed} | "
            f"{_MARKS[c.met]} | {why} |"
        )
    lines += ["", summary(cells)]
    return "\n".join(lines)


_MARKS = {True: "✓", False: "✗", None: "skipped"}


def summary(cells: Sequence[Cell]) -> str:
    met = sum(c.met is True for c in cells)
    skipped = sum(c.met is None for c in cells)
    return f"{met} of {len(cells)} cells as expected" + (
        f", {skipped} skipped." if skipped else "."
    )


def exit_code(cells: Sequence[Cell]) -> int:
    """1 where a cell is not as expected, 3 where one could not run here, else 0."""
    if any(c.met is False for c in cells):
        return ExitCode.FAILED
    return ExitCode.UNKNOWN if any(c.met is None for c in cells) else ExitCode.OK
