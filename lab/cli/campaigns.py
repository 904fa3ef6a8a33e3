"""Commands that run many runs: the backend ``matrix``, the fault campaign (``torture``), the
``catalog`` of the bug family and the ``demo``. Each writes a campaign directory and draws its
page, however it ended."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lab import scenario, subjects
from lab.campaigns import catalog, demo, fuzz, matrix, shared_tree, torture
from lab.cli import options
from lab.cli.context import Command, Context, run_each
from lab.errors import ExitCode, UsageError
from lab.log import log
from lab.nemesis.schedule import Fault
from lab.projects import template
from lab.projects.project import open_project
from lab.result import RunResult
from lab.run import Lab
from lab.toolchain import corpus


def _matrix(args: argparse.Namespace, ctx: Context) -> int:
    available = list(template.available())
    templates = options.choices("--templates", args.templates or ",".join(available), available)
    subject_names = options.subject_list(args.subjects)
    topologies = options.choices("--topologies", args.topologies, matrix.TOPOLOGIES)
    lab = ctx.lab(args)
    out, found = matrix.run(
        lab,
        templates=templates,
        subject_names=subject_names,
        topologies=topologies,
        build_delay=args.build_delay,
        trials=args.repeat,
    )
    ctx.console.print(out.summary.read_text(), markup=False)
    if args.trials:
        _, trials = shared_tree.run(lab.under(out.path), trials=args.trials)
        ctx.console.print(json.dumps(dataclasses.asdict(trials), indent=2), markup=False)
    log(f"saved in {out.path}")
    if args.record:
        log(f"recorded in {matrix.append_section(found, args.record)}")
    code = options.exit_code([c.status for c in found.cells], [c.verdict for c in found.cells])
    return ExitCode.FAILED if code == ExitCode.OK and matrix.failed(found) else code


def _torture(args: argparse.Namespace, ctx: Context) -> int:
    named = options.choices("--faults", args.faults, list(Fault)) if args.faults else []
    faults = tuple(Fault(f) for f in named)
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    base = scenario.load(path, [f"build_delay={args.build_delay}", *args.overrides])
    if base.lock_timeout is None:
        base = scenario.with_changes(base, "--lock-timeout", lock_timeout=args.lock_timeout)
    settings = torture.Settings(
        scenario=base,
        subjects=tuple(options.subject_list(args.subjects)),
        faults=faults,
        trials=args.trials,
        seed=args.seed,
        pause_s=options.pause_range(args.pause),
        only_trial=args.trial,
    )
    out, results = torture.run(ctx.lab(args), settings)
    if args.json:
        sys.stdout.write(out.record.read_text())
    else:
        ctx.console.print(out.summary.read_text(), markup=False)
    log(f"saved in {out.path}")
    return torture.exit_code(results)


def _catalog(args: argparse.Namespace, ctx: Context) -> int:
    subject_names = options.subject_list(args.subjects)
    only = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    out, cells = catalog.run(
        ctx.lab(args), subject_names=subject_names, only=only, overrides=args.overrides
    )
    ctx.console.print(out.summary.read_text(), markup=False)
    log(f"saved in {out.path}; the page: {out.page}")
    return catalog.exit_code(cells)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    lab = ctx.lab(args)

    def compare(planned: scenario.Scenario, names: Sequence[str]) -> list[RunResult]:
        each = [scenario.with_changes(planned, planned.name, subject=name) for name in names]
        return run_each(lab, each, ctx.console)

    page = demo.tour(
        lab,
        compare,
        pause=not args.no_pause,
        quick=args.quick,
        say=lambda text: ctx.console.print(text, markup=False),
    )
    log(f"the tour's index: {page}")
    return ExitCode.OK


def _fuzz_starts(args: argparse.Namespace, lab: Lab) -> list[tuple[str, Path | None]]:
    """What to fuzz, each as (the template or project for people, the project's path)."""
    if [args.template is not None, args.project is not None, args.real].count(True) != 1:
        raise UsageError("fuzz takes a template, --project PATH or --real: one of the three")
    if args.template is not None:
        options.choices("template", args.template, list(template.available()))
        return [(args.template, None)]
    if args.project is not None:  # checked before anything starts
        return [(str(args.project), open_project(args.project).path)]
    root = lab.toolchain.root
    return [(pin.label, corpus.downloaded(root, pin)) for pin in corpus.pins() if not pin.skip]


def _fuzz(args: argparse.Namespace, ctx: Context) -> int:
    lab = ctx.lab(args)  # one backend, chosen and checked once for every project
    starts = _fuzz_starts(args, lab)
    path = scenario.resolve_path(fuzz.SCENARIO, None)
    subject_names = tuple(options.subject_list(args.subjects))
    codes = []
    for shown, project in starts:
        fixed = [*([] if project else [f"template={shown}"]), *fuzz.OVERRIDES]
        base = scenario.load(path, [*fixed, *args.overrides])
        if project is not None:
            base = scenario.with_changes(base, f"--project {shown}", project=str(project))
        replay = " ".join(
            [
                "cachelab fuzz",
                f"--project {project}" if project else shown,
                f"--backend {args.backend}",
                *(f"--set {o}" for o in args.overrides),
            ]
        )
        settings = fuzz.Settings(base, subject_names, args.edits, args.seed, shown, replay)
        out, done = fuzz.run(lab, settings)
        ctx.console.print(out.summary.read_text(), markup=False)
        log(f"saved in {out.path}")
        codes.append(fuzz.exit_code(done))
    return ExitCode.FAILED if ExitCode.FAILED in codes else max(codes)


def _matrix_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--templates", help="comma-separated (default: all templates)")
    compared = ",".join(subjects.COMPARED)
    options.add_subjects(parser, compared, f"default: {compared}")
    parser.add_argument("--topologies", default="same-path,shared-tree")
    parser.add_argument("--build-delay", type=float, default=2.0)
    parser.add_argument(
        "--trials",
        type=options.count(0),
        default=0,
        help="also run the shared-tree setuptools trials with and without the tree lock",
    )
    parser.add_argument(
        "--repeat",
        type=options.count(1),
        default=1,
        help="trials per cell; each cell shows its median trial (make matrix: 3)",
    )
    options.add_backend(parser)
    options.add_runs_dir(parser)
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DOC",
        help="append the table and its bars to this Markdown file (make matrix: "
        "docs/benchmarks.md)",
    )


def _torture_options(parser: argparse.ArgumentParser) -> None:
    # no --project: the schedule times its faults by the template's build delay
    options.add_scenario(parser, project=False)
    parser.add_argument(
        "--faults",
        default="",
        metavar="LIST",
        help=f"comma-separated, taken in turn by the trials: {', '.join(Fault)} "
        "(default: none but the scenario's own failpoints)",
    )
    options.add_subjects(parser, "narrow", "default: narrow")
    parser.add_argument(
        "--trials", type=options.count(1), default=5, help="per subject (default 5)"
    )
    parser.add_argument("--seed", type=int, default=1, help="the schedule's seed (default 1)")
    parser.add_argument(
        "--trial", type=options.count(1), metavar="K", help="replay trial K of the schedule alone"
    )
    parser.add_argument(
        "--build-delay", type=float, default=2.0, help="seconds each build sleeps (default 2)"
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=10.0,
        help="seconds a subject may wait for a lock, where the scenario sets none (default 10)",
    )
    parser.add_argument(
        "--pause", default="1-15", metavar="MIN-MAX", help="seconds a paused runner stays paused"
    )


def _fuzz_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", nargs="?", help="a template to fuzz (or --project, --real)")
    parser.add_argument(
        "--project",
        type=Path,
        metavar="PATH",
        help="fuzz a copy of this project instead: a directory, a git checkout or an sdist",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="fuzz each project of the corpus that builds here, in turn (`cachelab setup --real` "
        "first)",
    )
    options.add_subjects(parser, "narrow,coalesce", "default: narrow,coalesce")
    parser.add_argument(
        "--edits", type=options.count(1), default=50, help="edits to make (default 50)"
    )
    parser.add_argument("--seed", type=int, default=1, help="the edits' seed (default 1)")
    options.add_overrides(parser, "of each install's scenario", "runners=1")
    options.add_backend(parser)
    options.add_runs_dir(parser)


def _catalog_options(parser: argparse.ArgumentParser) -> None:
    default = ",".join(catalog.DEFAULT_SUBJECTS)
    options.add_subjects(parser, default, f"default: {default}")
    parser.add_argument(
        "--scenarios",
        default="",
        metavar="LIST",
        help="comma-separated names, or files with [[expect]] (default: all of the lab's)",
    )
    options.add_overrides(parser, "in every scenario", "build_delay=1")
    options.add_backend(parser)
    options.add_runs_dir(parser)


def _demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-pause", action="store_true", help="run unattended: do not wait for Enter"
    )
    parser.add_argument(
        "--quick", action="store_true", help="builds of a second at most (for tests)"
    )
    options.add_backend(parser)
    options.add_runs_dir(parser)


COMMANDS = (
    Command(
        "matrix",
        "template × subject × topology, 2 runners each, with verdicts",
        _matrix,
        _matrix_options,
    ),
    Command(
        "torture",
        "a seeded fault campaign: each trial a faulted run and a clean follow-up, judged by "
        "the checker; exit 1 where a trial was invalid or leaked, 3 where one was unknown",
        _torture,
        _torture_options,
    ),
    Command(
        "fuzz",
        "seeded random edits to one project tree, an install by each subject after each, "
        "judged against a cold build; exit 1 where an install was stale",
        _fuzz,
        _fuzz_options,
    ),
    Command(
        "catalog",
        "run the catalog of the bug family per subject: expected, observed, ✓ or ✗ "
        "(exit 1 on a ✗, 3 where a cell cannot run here)",
        _catalog,
        _catalog_options,
    ),
    Command(
        "demo",
        "a guided tour of cache safety: a few scenarios, explained, side by side",
        _demo,
        _demo_options,
    ),
)
