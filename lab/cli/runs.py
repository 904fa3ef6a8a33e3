"""Commands about runs: ``run`` and ``compare`` a scenario, ``check`` a run again from its
directory, draw its ``report`` again, ``archive`` it for an upstream issue."""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from lab import check, scenario
from lab.cli import options
from lab.cli.context import Command, Context, compare_page, run_each, shown
from lab.errors import ExitCode, UsageError
from lab.projects.project import open_project
from lab.report import archive, html, terminal
from lab.runners.swarm import CacheVolume
from lab.vocabulary import Verdict


def _cache_volume(
    args: argparse.Namespace, scenarios: Sequence[scenario.Scenario]
) -> CacheVolume | None:
    """The cache options, checked: the volume they name, if any."""
    if args.cache_dir is not None and not args.cache_dir.is_dir():
        raise UsageError(
            f"--cache-dir {args.cache_dir}: no such directory; make it first (runs share it, "
            "so the lab never makes or removes it)"
        )
    if args.cache_volume is None:
        if args.cache_volume_opt:
            raise UsageError("--cache-volume-opt is an option of --cache-volume NAME")
        return None
    volume = CacheVolume.parse(args.cache_volume, args.cache_volume_opt)
    if args.cache_dir is None:
        raise UsageError(
            "--cache-volume needs --cache-dir: where this host sees the same storage (e.g. "
            "the NFS export mounted here), which the checker reads"
        )
    lying = [s.name for s in scenarios if s.locks == "lie"]
    if lying:
        raise UsageError(
            f"scenario {lying[0]} has locks that lie, which are views of --cache-dir on this "
            "host: the tasks would not see them through --cache-volume"
        )
    return volume


def project_unused(s: scenario.Scenario) -> str:
    """The scenario's fields that shape a template's checkouts, where it sets them: on a
    project they change nothing."""
    unused = [
        name
        for name, value in (
            ("template_parameters", s.template_parameters),
            ("checkout_versions", s.checkout_versions),
            ("checkout_dependencies", s.checkout_dependencies),
            ("an edit's settings", [step for step in s.steps if step.set]),
        )
        if value
    ]
    return ", ".join(unused)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    """Run the scenario once per subject (the scenario's own without --subjects)."""
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    chosen = options.subject_list(args.subjects) if args.subjects else [None]
    project = open_project(args.project) if args.project else None  # before anything starts
    scenarios = [
        scenario.load(path, [*args.overrides, *([f"subject={s}"] if s else [])]) for s in chosen
    ]
    if project is not None:
        scenarios = [
            scenario.with_changes(s, f"--project {args.project}", project=str(project.path))
            for s in scenarios
        ]
    volume = _cache_volume(args, scenarios)
    first = scenarios[0]
    built = (
        f"project {project.name}"
        if project
        else f"template {first.template}, build delay {first.build_delay:g} s"
    )
    ctx.console.print(
        f"scenario {first.name} from {path}: {first.runners} runners, {built}, "
        f"{first.topology.value} at {first.checkout_path}",
        markup=False,
    )
    if project is not None and (unused := project_unused(first)):
        ctx.console.print(f"on a project, {unused} do not apply: each checkout is a copy of it")
    lab = ctx.lab(args, volume)
    cache = args.cache_dir.resolve() if args.cache_dir else None
    results = run_each(lab, scenarios, ctx.console, cache)
    if len(results) > 1:
        ctx.console.print(terminal.side_by_side(results), style="bold")
        ctx.console.print(f"timelines: {shown(compare_page(lab, first.name, results))}")
    if args.json:
        payload: object = (
            results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        )
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    return options.exit_code([r.status for r in results], [r.verdict for r in results])


def _check(args: argparse.Namespace, ctx: Context) -> int:
    judgement = check.check(args.run_dir)
    if args.json:
        sys.stdout.write(json.dumps(judgement.to_dict(), indent=2) + "\n")
    else:
        ctx.console.print(f"{args.run_dir}: {judgement.verdict}", markup=False)
        for runner, outcome in judgement.outcomes.items():
            ctx.console.print(f"  {runner}: {outcome}", markup=False)
        for v in judgement.violations:
            ctx.console.print(f"  {v.kind}: {v.message}", markup=False)
        for u in judgement.unknowns:
            ctx.console.print(f"  unknown: {u.reason}", markup=False)
    codes = {Verdict.VALID: ExitCode.OK, Verdict.INVALID: ExitCode.FAILED}
    return codes.get(judgement.verdict, ExitCode.UNKNOWN)


def _report(args: argparse.Namespace, ctx: Context) -> int:
    page = html.render(args.directory)
    ctx.console.print(str(page), markup=False)
    if args.open:
        webbrowser.open(page.resolve().as_uri())
    return ExitCode.OK


def _archive(args: argparse.Namespace, ctx: Context) -> int:
    made = archive.make(args.run_dir, args.output)
    ctx.console.print(f"{made} ({made.stat().st_size / 1e3:,.0f} kB)", markup=False)
    return ExitCode.OK


def _run_options(parser: argparse.ArgumentParser) -> None:
    options.add_scenario(parser, project=True)
    options.add_cache(parser)
    options.add_subjects(parser, None, "default: the scenario's; several run one after another")


def _compare_options(parser: argparse.ArgumentParser) -> None:
    options.add_scenario(parser, project=True)
    options.add_cache(parser)
    options.add_subjects(parser, "uv,narrow", "default: uv,narrow")


def _check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="e.g. runs/latest")
    parser.add_argument("--json", action="store_true", help="print the judgement as JSON")


def _report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="e.g. runs/latest")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")


def _archive_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="e.g. runs/latest")
    parser.add_argument(
        "-o", "--output", type=Path, help="where (default: RUN_DIR.tar.gz beside it)"
    )


COMMANDS = (
    Command("run", "run a scenario", _run, _run_options),
    Command("compare", "run a scenario once per subject, side by side", _run, _compare_options),
    Command(
        "check",
        "judge a run from its directory alone: exit 0 valid, 1 invalid, 3 unknown",
        _check,
        _check_options,
    ),
    Command(
        "report",
        "render the HTML page of a run, compare, matrix or campaign directory again",
        _report,
        _report_options,
    ),
    Command(
        "archive",
        "one archive of a run to attach to an upstream issue (no cache, no environment)",
        _archive,
        _archive_options,
    ),
)
