"""``cachelab``: the command line. Exit codes are ``vocabulary.ExitCode``, listed in --help."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console

from lab import (
    __version__,
    archive,
    check,
    demo,
    images,
    run,
    scenario,
    subjects,
    template,
    testswarm,
    toolchain,
)
from lab.campaigns import bench, catalog, matrix, torture
from lab.errors import BackendUnavailable, LabError, UsageError
from lab.nemesis.schedule import Fault
from lab.report import html, terminal
from lab.result import RunResult
from lab.runners import select
from lab.runners.base import Backend
from lab.runners.docker import DockerBackend
from lab.runners.swarm import CacheVolume, SwarmBackend
from lab.vocabulary import EXIT_CODES_HELP, ExitCode, RunStatus, Verdict

# every subject but uv, which also takes a version
_NAMED = [name for name in subjects.names() if name != "uv"]
# `builders` is the subjects suite's old name
_SUITES = {**{s.value: s for s in bench.Suite}, "builders": bench.Suite.SUBJECTS}


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def _counts(text: str) -> tuple[int, ...]:
    """A comma-separated list of runner counts, each 1-64 (a scenario's most): the distinct
    ones, fewest first."""
    counts = {_count(1)(part.strip()) for part in text.split(",")}
    if max(counts) > scenario.MAX_RUNNERS:
        raise argparse.ArgumentTypeError(f"at most {scenario.MAX_RUNNERS} runners, got {text!r}")
    return tuple(sorted(counts))


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        parents=list(parents),
        help=help_text,
        description=help_text,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _subjects_option(parser: argparse.ArgumentParser, default: str | None, what: str) -> None:
    parser.add_argument(
        "--subjects",
        "--builders",  # the option's old name
        dest="subjects",
        default=default,
        metavar="LIST",
        help=f"comma-separated subjects: uv, uv@VERSION, {', '.join(_NAMED)} ({what})",
    )


def _backend_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--backend",
        choices=select.CHOICES,
        default="auto",
        help=f"the runner backend{what}: docker (containers), local (private namespaces, no "
        "engine needed), swarm (swarm jobs: the test swarm of `cachelab swarm up`, else the "
        "manager DOCKER_HOST names), auto (default: docker where the engine answers and has "
        "the image)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachelab",
        description="A lab for build caches shared by many CI runners.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cachelab {__version__}")
    parser.add_argument(
        "--lab-dir",
        type=Path,
        default=Path(".lab"),
        help="the offline wheelhouse and pinned tools (default: .lab)",
    )
    parser.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="base of the runner image, e.g. python:3.11-slim where a registry is reachable "
        "(default: an image imported from Debian's packages)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    scenario_args = argparse.ArgumentParser(add_help=False)
    scenario_args.add_argument(
        "scenario", help="a scenario file, or the name of one of the lab's scenarios"
    )
    _backend_option(scenario_args, "")
    scenario_args.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set runners=4 (repeatable)",
    )
    scenario_args.add_argument("--json", action="store_true", help="print result.json to stdout")
    scenario_args.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        help="where run directories go (default: runs)",
    )
    scenario_args.add_argument(
        "--scenarios-dir",
        type=Path,
        help="where scenario names are looked up (default: the lab's scenarios)",
    )
    cache_args = argparse.ArgumentParser(add_help=False)
    cache_args.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="an existing directory every run shares as its cache, warm from the last "
        "(default: each run its own, empty)",
    )
    cache_args.add_argument(
        "--cache-volume",
        metavar="NAME",
        help="swarm: each task mounts this named volume as the cache (each node's engine "
        "makes it from --cache-volume-opt), e.g. an NFS export; --cache-dir is where this "
        "host sees the same storage, for the checker",
    )
    cache_args.add_argument(
        "--cache-volume-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the local volume driver for --cache-volume, e.g. type=nfs, "
        "o=addr=10.0.0.5,rw, device=:/export/cache (repeatable)",
    )
    run_cmd = _command(sub, "run", "run a scenario", [scenario_args, cache_args])
    _subjects_option(run_cmd, None, "default: the scenario's; several run one after another")
    compare = _command(
        sub,
        "compare",
        "run a scenario once per subject, side by side",
        [scenario_args, cache_args],
    )
    _subjects_option(compare, "uv,narrow", "default: uv,narrow")

    check_cmd = _command(
        sub,
        "check",
        "judge a run from its directory alone: exit 0 valid, 1 invalid, 3 unknown",
    )
    check_cmd.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="e.g. runs/latest")
    check_cmd.add_argument("--json", action="store_true", help="print the report as JSON")

    report_cmd = _command(
        sub,
        "report",
        "render the HTML page of a run, compare, matrix or campaign directory again",
    )
    report_cmd.add_argument("directory", type=Path, metavar="DIR", help="e.g. runs/latest")
    report_cmd.add_argument("--open", action="store_true", help="open the page in a browser")

    setup_cmd = _command(
        sub, "setup", "build the offline wheelhouse and install the pinned uv versions"
    )
    setup_cmd.add_argument(
        "--uv-version",
        dest="uv_versions",
        action="append",
        default=[],
        metavar="X.Y.Z",
        help="also install this uv release from the package registry, for uv@X.Y.Z (repeatable)",
    )
    imgs = _command(sub, "images", "build the runner images that are missing or out of date")
    imgs.add_argument(
        "--if-engine",
        action="store_true",
        help="do nothing (exit 0) where no Docker engine answers, for `make reproduce`",
    )
    imgs.add_argument(
        "--no-native",
        action="store_true",
        help="only the pure-Python runner image (what the issue's scenario needs, quick to "
        "make), not the native one with compilers (`make reproduce`)",
    )
    _command(sub, "templates", "list the demo project templates")

    swarm_cmd = _command(
        sub, "swarm", "a local test swarm of Docker engines the lab starts itself (as root)"
    )
    swarm_sub = swarm_cmd.add_subparsers(dest="swarm_command", metavar="ACTION", required=True)
    swarm_up = _command(
        swarm_sub, "up", "start N engines, form a swarm, load the runner image into each"
    )
    swarm_up.add_argument("--nodes", type=_count(1), default=2, help="how many (default: 2)")
    swarm_up.add_argument(
        "--native",
        action="store_true",
        help="load the native runner image too (with compilers), for the native templates",
    )
    _command(swarm_sub, "down", "take the test swarm down: no engine, mount or data left")

    matrix_cmd = _command(
        sub, "matrix", "template × subject × topology, 2 runners each, with verdicts"
    )
    matrix_cmd.add_argument("--templates", help="comma-separated (default: all templates)")
    _subjects_option(
        matrix_cmd, ",".join(subjects.COMPARED), f"default: {','.join(subjects.COMPARED)}"
    )
    matrix_cmd.add_argument("--topologies", default="same-path,shared-tree")
    matrix_cmd.add_argument("--build-delay", type=float, default=2.0)
    matrix_cmd.add_argument(
        "--trials",
        type=_count(0),
        default=0,
        help="also run the shared-tree setuptools trials with and without the tree lock",
    )
    matrix_cmd.add_argument(
        "--repeat",
        type=_count(1),
        default=1,
        help="trials per cell; each cell shows its median trial (make matrix: 3)",
    )
    _backend_option(matrix_cmd, "")
    matrix_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))
    matrix_cmd.add_argument(
        "--record",
        type=Path,
        metavar="DOC",
        help="append the table and its bars to this Markdown file (make matrix: "
        "docs/benchmarks.md)",
    )

    torture_cmd = _command(
        sub,
        "torture",
        "a seeded fault campaign: each trial a faulted run and a clean follow-up, judged by "
        "the checker; exit 1 where a trial was invalid or leaked, 3 where one was unknown",
        [scenario_args],
    )
    torture_cmd.add_argument(
        "--faults",
        default="",
        metavar="LIST",
        help=f"comma-separated, taken in turn by the trials: {', '.join(Fault)} "
        "(default: none but the scenario's own failpoints)",
    )
    _subjects_option(torture_cmd, "narrow", "default: narrow")
    torture_cmd.add_argument("--trials", type=_count(1), default=5, help="per subject (default 5)")
    torture_cmd.add_argument("--seed", type=int, default=1, help="the schedule's seed (default 1)")
    torture_cmd.add_argument(
        "--trial", type=_count(1), metavar="K", help="replay trial K of the schedule alone"
    )
    torture_cmd.add_argument(
        "--build-delay", type=float, default=2.0, help="seconds each build sleeps (default 2)"
    )
    torture_cmd.add_argument(
        "--lock-timeout",
        type=float,
        default=10.0,
        help="seconds a subject may wait for a lock, where the scenario sets none (default 10)",
    )
    torture_cmd.add_argument(
        "--pause", default="1-15", metavar="MIN-MAX", help="seconds a paused runner stays paused"
    )

    catalog_cmd = _command(
        sub,
        "catalog",
        "run the catalog of the bug family per subject: expected, observed, ✓ or ✗ "
        "(exit 1 on a ✗, 3 where a cell cannot run here)",
    )
    subjects_default = ",".join(catalog.DEFAULT_SUBJECTS)
    _subjects_option(catalog_cmd, subjects_default, f"default: {subjects_default}")
    catalog_cmd.add_argument(
        "--scenarios",
        default="",
        metavar="LIST",
        help="comma-separated names, or files with [[expect]] (default: all of the lab's)",
    )
    catalog_cmd.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field in every scenario, e.g. --set build_delay=1 (repeatable)",
    )
    _backend_option(catalog_cmd, "")
    catalog_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))

    demo_cmd = _command(
        sub, "demo", "a guided tour of cache safety: a few scenarios, explained, side by side"
    )
    demo_cmd.add_argument(
        "--no-pause", action="store_true", help="run unattended: do not wait for Enter"
    )
    demo_cmd.add_argument(
        "--quick", action="store_true", help="builds of a second at most (for tests)"
    )
    _backend_option(demo_cmd, "")
    demo_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))

    bundle_cmd = _command(
        sub,
        "bundle",
        "one archive of a run to attach to an upstream issue (no cache, no environment)",
    )
    bundle_cmd.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="e.g. runs/latest")
    bundle_cmd.add_argument(
        "-o", "--output", type=Path, help="where (default: RUN_DIR.tar.gz beside it)"
    )

    bench_cmd = _command(sub, "bench", "benchmarks, measured side by side in one run")
    bench_cmd.add_argument(
        "suite",
        choices=list(_SUITES),
        help="backends: docker against local; subjects (or builders): uv and the reference "
        "builder's policies at N runners, per workload, against lock-free uv; swarm: the "
        "default policy at 8-64 runners over a test swarm's nodes and on one engine (root)",
    )
    bench_cmd.add_argument(
        "--nodes",
        type=_count(1),
        default=3,
        help="swarm suite: the test swarm's nodes, formed for it and taken down after (default: 3)",
    )
    bench_cmd.add_argument(
        "--workloads",
        default=",".join(w.name for w in bench.WORKLOADS),
        metavar="LIST",
        help="subjects suite: comma-separated, from "
        f"{', '.join(w.name for w in bench.WORKLOADS)} (default: all)",
    )
    bench_cmd.add_argument(
        "--runners",
        type=_counts,
        metavar="LIST",
        help="subjects suite: comma-separated runner counts to measure instead of each "
        "workload's own (sleep: 1-32, the CPU-bound ones: 1-8), e.g. 1,2; without 1, uv's "
        "one build is its fastest runner at the fewest",
    )
    bench_cmd.add_argument(
        "--repeat",
        type=_count(1),
        help="trials per backend (backends: 3) or per cell (subjects: each workload's own, "
        "3 for sleep and 1 for the CPU-bound ones); a cell shows its median trial",
    )
    _subjects_option(
        bench_cmd, ",".join(bench.MEASURED), f"subjects suite; default: {','.join(bench.MEASURED)}"
    )
    _backend_option(bench_cmd, " for the subjects suite")
    bench_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))
    bench_cmd.add_argument(
        "--record",
        type=Path,
        metavar="DOC",
        help="append this run's tables to DOC, a Markdown file, with its charts beside it "
        "(make bench: docs/benchmarks.md)",
    )
    return parser


def _choices(option: str, text: str, allowed: Sequence[str]) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if not names or unknown:
        raise UsageError(f"{option} {text}: choose from {', '.join(allowed)}")
    return names


def _uv_release(version: str) -> str:
    try:
        return subjects.uv_release(version)
    except ValueError as exc:
        raise UsageError(f"--uv-version: {exc}") from None


def _subject_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"--subjects {text!r}: name at least one of {', '.join(subjects.names())}")
    try:
        return [subjects.canonical(n) for n in names]
    except ValueError as exc:
        raise UsageError(f"--subjects {text}: {exc}") from None


def _exit_code(statuses: Sequence[RunStatus | None], verdicts: Sequence[Verdict] = ()) -> int:
    if any(s in (RunStatus.FAILED, None) for s in statuses) or Verdict.INVALID in verdicts:
        return ExitCode.FAILED
    if RunStatus.TIMEOUT in statuses or Verdict.UNKNOWN in verdicts:
        return ExitCode.UNKNOWN
    return ExitCode.OK


def _catalog(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    subject_names = _subject_list(args.subjects)
    only = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, args.base_image)
    log(f"backend {backend.name} ({why})")
    out, cells = catalog.run(
        tc,
        backend,
        args.runs_dir.resolve(),
        subject_names=subject_names,
        only=only,
        overrides=args.overrides,
        log=log,
    )
    print((out / "catalog.md").read_text())
    log(f"saved in {out}; the page: {out / html.PAGE}")
    return catalog.exit_code(cells)


def _matrix(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    available = list(template.available())
    templates = _choices("--templates", args.templates or ",".join(available), available)
    subject_names = _subject_list(args.subjects)
    topologies = _choices("--topologies", args.topologies, matrix.TOPOLOGIES)
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, args.base_image)
    log(f"backend {backend.name} ({why})")
    out, cells = matrix.run(
        tc,
        backend,
        args.runs_dir.resolve(),
        templates=templates,
        subject_names=subject_names,
        topologies=topologies,
        build_delay=args.build_delay,
        trials=args.repeat,
        log=log,
    )
    print((out / "matrix.md").read_text())
    if args.trials:
        trials = matrix.shared_tree_trials(tc, backend, out, trials=args.trials, log=log)
        print(json.dumps(trials, indent=2))
    log(f"saved in {out}")
    if args.record:
        log(f"recorded in {matrix.record(out, args.record)}")
    code = _exit_code([c.status for c in cells], [c.verdict for c in cells])
    if code == ExitCode.OK and any(c.met is False for c in matrix.bars(cells)):
        return ExitCode.FAILED
    return code


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same cleanup path as Ctrl-C


def _run_each(
    plans: Sequence[scenario.Scenario],
    backend: Backend,
    tc: toolchain.Toolchain,
    runs_dir: Path,
    console: Console,
    cache: Path | None = None,
) -> list[RunResult]:
    """Run each plan in turn with live progress, and print each run's table and verdict."""
    results = []
    for resolved in plans:
        names = scenario.runner_names(resolved.runners)
        with terminal.Progress(Console(stderr=True), names) as progress:
            result = run.execute(
                resolved, backend, tc, runs_dir.resolve(), progress.on_event, cache=cache
            )
        terminal.print_result(console, result, str(runs_dir / result.run_id))
        results.append(result)
    return results


def _demo(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, args.base_image)
    console = Console(soft_wrap=True, highlight=False)
    console.print(f"backend {backend.name} ({why})")

    def compare(planned: scenario.Scenario, names: Sequence[str]) -> list[RunResult]:
        each = [
            scenario.from_mapping({**planned.model_dump(), "subject": name}, planned.name)
            for name in names
        ]
        return _run_each(each, backend, tc, args.runs_dir, console)

    page = demo.tour(
        compare,
        args.runs_dir,
        pause=not args.no_pause,
        quick=args.quick,
        say=lambda text: console.print(text, markup=False),
    )
    log(f"the tour's index: {page}")
    return ExitCode.OK


def _cache_volume(
    args: argparse.Namespace, plans: Sequence[scenario.Scenario]
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
    lying = [p.name for p in plans if p.locks == "lie"]
    if lying:
        raise UsageError(
            f"scenario {lying[0]} has locks that lie, which are views of --cache-dir on this "
            "host: the tasks would not see them through --cache-volume"
        )
    return volume


def _run(args: argparse.Namespace) -> int:
    """Run the scenario once per subject (the scenario's own without --subjects)."""
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    overrides = list(args.overrides)
    chosen = _subject_list(args.subjects) if args.subjects else [None]
    plans = [scenario.load(path, [*overrides, *([f"subject={s}"] if s else [])]) for s in chosen]
    volume = _cache_volume(args, plans)
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, args.base_image, volume)
    # Human output goes to stderr when stdout carries JSON.
    console = Console(stderr=args.json, soft_wrap=True, highlight=False)
    first = plans[0]
    console.print(
        f"scenario {first.name} from {path}: {first.runners} runners, "
        f"template {first.template}, build delay {first.build_delay:g} s, "
        f"{first.topology.value} at {first.checkout_path}"
    )
    console.print(f"backend {backend.name} ({why})")
    runs_dir = args.runs_dir
    cache = args.cache_dir.resolve() if args.cache_dir else None
    results = _run_each(plans, backend, tc, runs_dir, console, cache)
    if len(results) > 1:
        console.print(terminal.side_by_side(results), style="bold")
        # A page that draws the runs on one axis, beside them.
        compared = runs_dir / f"compare-{first.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        page = html.write_compare(compared, [runs_dir / r.run_id for r in results])
        console.print(f"timelines: {page}")
    if args.json:
        payload: object = (
            results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        )
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    return _exit_code([r.status for r in results], [r.verdict for r in results])


def _check(args: argparse.Namespace) -> int:
    report = check.check(args.run_dir)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        print(f"{args.run_dir}: {report.verdict}")
        for runner, outcome in report.outcomes.items():
            print(f"  {runner}: {outcome}")
        for v in report.violations:
            print(f"  {v.kind}: {v.message}")
        for u in report.unknowns:
            print(f"  unknown: {u.reason}")
    codes = {Verdict.VALID: ExitCode.OK, Verdict.INVALID: ExitCode.FAILED}
    return codes.get(report.verdict, ExitCode.UNKNOWN)


def _pause_range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        bounds = (float(low), float(high)) if sep else (float(low), float(low))
    except ValueError:
        bounds = (-1.0, -1.0)
    if not 0 <= bounds[0] <= bounds[1]:
        raise UsageError(f"--pause {text}: expected MIN-MAX seconds, e.g. 1-15")
    return bounds


def _torture(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    faults = (
        tuple(Fault(f) for f in _choices("--faults", args.faults, list(Fault)))
        if args.faults
        else ()
    )
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    base = scenario.load(path, [f"build_delay={args.build_delay}", *args.overrides])
    if base.lock_timeout is None:
        base = scenario.load(
            path,
            [
                f"build_delay={args.build_delay}",
                *args.overrides,
                f"lock_timeout={args.lock_timeout}",
            ],
        )
    settings = torture.Settings(
        scenario=base,
        subjects=tuple(_subject_list(args.subjects)),
        faults=faults,
        trials=args.trials,
        seed=args.seed,
        pause_s=_pause_range(args.pause),
        only_trial=args.trial,
    )
    backend, why = select.choose(args.backend, args.base_image)
    log(f"backend {backend.name} ({why})")
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    out, results = torture.run(settings, backend, tc, args.runs_dir.resolve(), log)
    if args.json:
        sys.stdout.write((out / "campaign.json").read_text())
    else:
        print((out / "campaign.md").read_text())
    log(f"saved in {out}")
    return torture.exit_code(results)


def _swarm(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    if args.swarm_command == "down":
        testswarm.down(log=log)
        return ExitCode.OK
    toolchain.ensure(args.lab_dir.resolve(), log=log)
    source = DockerBackend().client()  # the user's engine lends the runner image
    built = images.ensure(source, args.base_image, log=log, native=args.native)
    loaded = [built.runner]
    if args.native:
        loaded.append(images.plan(args.base_image, native=True).runner)
    swarm = testswarm.up(args.nodes, loaded, source, log=log)
    for node in swarm.nodes:
        print(f"{node.name}  {node.node_id}  {node.socket}")
    return ExitCode.OK


def _images(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    toolchain.ensure(args.lab_dir.resolve(), log=log)
    try:
        client = DockerBackend().client()
    except BackendUnavailable as exc:
        if not args.if_engine:
            raise
        log(f"no runner images built: {exc.reason}")
        return ExitCode.OK
    built = images.ensure(client, args.base_image, log=log, native=not args.no_native)
    log(f"runner image {built.runner} on {built.base}")
    if not args.no_native:
        native = images.plan(args.base_image, native=True)
        log(f"native runner image {native.runner} on {native.base}")
    return ExitCode.OK


def _bench_swarm(
    args: argparse.Namespace, tc: toolchain.Toolchain, runs: Path, log: Callable[[str], None]
) -> dict[str, object]:
    """The swarm suite on a test swarm of --nodes, formed for it (and taken down after,
    unless one was up already)."""
    docker_backend = DockerBackend(args.base_image)
    docker_backend.check()
    assert docker_backend.image is not None
    was_up = testswarm.current() is not None
    try:
        testswarm.up(args.nodes, [docker_backend.image], docker_backend.client(), log=log)
        swarm_backend = SwarmBackend(args.base_image)
        swarm_backend.check()
        return bench.swarm_at_scale(
            tc, runs, swarm_backend, docker_backend, nodes=len(swarm_backend.nodes), log=log
        )
    finally:
        if not was_up:
            testswarm.down(log=log)


def _bench(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    known = [w.name for w in bench.WORKLOADS]
    workloads = bench.workloads(_choices("--workloads", args.workloads, known))
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    runs = args.runs_dir.resolve()
    if _SUITES[args.suite] is bench.Suite.BACKENDS:
        repeat = args.repeat or bench.BACKEND_TRIALS
        found = bench.backends(tc, runs, repeat=repeat, base_image=args.base_image, log=log)
    elif _SUITES[args.suite] is bench.Suite.SWARM:
        found = _bench_swarm(args, tc, runs, log)
    else:
        backend, why = select.choose(args.backend, args.base_image)
        log(f"backend {backend.name} ({why})")
        names = _subject_list(args.subjects)
        found = bench.subjects_at_scale(
            tc,
            runs,
            backend,
            subject_names=names,
            chosen=workloads,
            trials=args.repeat,
            runner_counts=args.runners,
            log=log,
        )
    out = bench.save(found, runs)
    print(bench.markdown(found))
    log(f"saved in {out} (page: {html.render(out)})")
    if args.record is not None:
        log(f"recorded in {bench.record(found, out, args.record)}")
    return ExitCode.FAILED if bench.failed(found) else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    err = Console(stderr=True, soft_wrap=True, highlight=False)

    def log(message: str) -> None:
        err.print(message, markup=False)

    try:
        if args.command in ("run", "compare"):
            return _run(args)
        if args.command == "check":
            return _check(args)
        if args.command == "report":
            page = html.render(args.directory)
            print(page)
            if args.open:
                webbrowser.open(page.resolve().as_uri())
            return ExitCode.OK
        if args.command == "setup":
            versions = [_uv_release(v) for v in args.uv_versions]  # before anything is made
            tc = toolchain.ensure(args.lab_dir.resolve(), log=log)
            for version in versions:
                toolchain.add_uv(tc, version, log=log)
            return ExitCode.OK
        if args.command == "images":
            return _images(args, log)
        if args.command == "swarm":
            return _swarm(args, log)
        if args.command == "matrix":
            return _matrix(args, log)
        if args.command == "catalog":
            return _catalog(args, log)
        if args.command == "demo":
            return _demo(args, log)
        if args.command == "bundle":
            made = archive.make(args.run_dir, args.output)
            print(f"{made} ({made.stat().st_size / 1e3:,.0f} kB)")
            return ExitCode.OK
        if args.command == "bench":
            return _bench(args, log)
        if args.command == "torture":
            return _torture(args, log)
        if args.command == "templates":
            for t in template.available().values():
                print(f"{t.name:18} {t.description}")
            return ExitCode.OK
    except LabError as exc:
        err.print(f"cachelab: error: {exc}", style="red", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("cachelab: interrupted; runners stopped", style="yellow")
        return ExitCode.INTERRUPTED
    return ExitCode.USAGE
