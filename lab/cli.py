"""``cachelab``: the command line. Usage errors exit 2, failed runs 1, interrupts 130."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console

from lab import (
    __version__,
    bench,
    images,
    matrix,
    orchestrator,
    report,
    scenario,
    template,
    toolchain,
)
from lab.errors import BackendUnavailable, LabError, UsageError
from lab.runners import select
from lab.runners.docker import DockerBackend

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachelab", description="A lab for build caches shared by many CI runners."
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
        "scenario", help="a scenario file, or a name from the scenarios directory"
    )
    scenario_args.add_argument(
        "--backend",
        choices=select.CHOICES,
        default="auto",
        help="docker: containers; local: private namespaces, no engine needed; "
        "auto (default): docker where the engine answers and has the runner image",
    )
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
        default=Path("scenarios"),
        help="where scenario names are looked up (default: scenarios)",
    )
    sub.add_parser("run", parents=[scenario_args], help="run a scenario")
    compare = sub.add_parser(
        "compare", parents=[scenario_args], help="run a scenario once per builder, side by side"
    )
    compare.add_argument(
        "--builders",
        default="uv,narrow",
        help="comma-separated builders: uv, narrow, wide, none (default: uv,narrow)",
    )

    sub.add_parser("setup", help="build the offline wheelhouse and install the pinned uv versions")
    imgs = sub.add_parser("images", help="build the runner images that are missing or out of date")
    imgs.add_argument(
        "--if-engine",
        action="store_true",
        help="do nothing (exit 0) where no Docker engine answers, for `make reproduce`",
    )
    sub.add_parser("templates", help="list the demo project templates")

    matrix_cmd = sub.add_parser(
        "matrix", help="template × builder × topology, 2 runners each, with verdicts"
    )
    matrix_cmd.add_argument("--templates", help="comma-separated (default: all templates)")
    matrix_cmd.add_argument("--builders", default="uv,wide,narrow")
    matrix_cmd.add_argument("--topologies", default="same-path,shared-tree")
    matrix_cmd.add_argument("--build-delay", type=float, default=2.0)
    matrix_cmd.add_argument(
        "--trials",
        type=_count(0),
        default=0,
        help="also run the shared-tree setuptools trials with and without the tree lock",
    )
    matrix_cmd.add_argument("--backend", choices=select.CHOICES, default="auto")
    matrix_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))

    bench_cmd = sub.add_parser("bench", help="benchmarks, measured side by side in one run")
    bench_cmd.add_argument(
        "suite",
        choices=["backends", "builders"],
        help="backends: docker against local; builders: uv, wide, narrow at N = 1, 2, 4, 8",
    )
    bench_cmd.add_argument(
        "--repeat", type=_count(1), default=3, help="trials per backend (backends)"
    )
    bench_cmd.add_argument(
        "--backend",
        choices=select.CHOICES,
        default="auto",
        help="runners for the builders suite (default: auto)",
    )
    bench_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))
    return parser


def _choices(option: str, text: str, allowed: Sequence[str]) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if not names or unknown:
        raise UsageError(f"{option} {text}: choose from {', '.join(allowed)}")
    return names


def _matrix(args: argparse.Namespace, log: Callable[[str], None]) -> int:
    templates = _choices(
        "--templates", args.templates or ",".join(template.available()), list(template.available())
    )
    builders = _choices("--builders", args.builders, scenario.COMPARED_BUILDERS)
    topologies = _choices("--topologies", args.topologies, matrix.TOPOLOGIES)
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, tc, args.base_image)
    log(f"backend {backend.name} ({why})")
    runs = args.runs_dir.resolve()
    out, cells = matrix.run(
        tc,
        backend,
        runs,
        templates=templates,
        builders=builders,
        topologies=topologies,
        build_delay=args.build_delay,
        log=log,
    )
    print((out / "matrix.md").read_text())
    if args.trials:
        trials = matrix.shared_tree_trials(tc, backend, out, trials=args.trials, log=log)
        print(json.dumps(trials, indent=2))
    log(f"saved in {out}")
    return 0 if all(c.verdict == "valid" and c.status == "ok" for c in cells) else EXIT_FAILED


def _builders(text: str) -> list[str | None]:
    return [*_choices("--builders", text, scenario.BUILDERS)]


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same cleanup path as Ctrl-C


def _run(args: argparse.Namespace, builders: Sequence[str | None]) -> int:
    """Run the scenario once per builder (None: the scenario's own) and report each."""
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    overrides = list(args.overrides)
    plans = [scenario.load(path, [*overrides, *([f"builder={b}"] if b else [])]) for b in builders]
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, tc, args.base_image)
    # Human output goes to stderr when stdout carries JSON.
    console = Console(stderr=args.json, soft_wrap=True, highlight=False)
    first = plans[0]
    console.print(
        f"scenario {first.name} from {path}: {first.runners} runners, "
        f"template {first.template}, build delay {first.build_delay:g} s, "
        f"{first.topology.value} at {first.checkout_path}"
    )
    console.print(f"backend {backend.name} ({why})")
    results = []
    for resolved in plans:
        names = orchestrator.runner_names(resolved.runners)
        with report.Progress(Console(stderr=True), names) as progress:
            result = orchestrator.run(
                resolved, backend, tc, args.runs_dir.resolve(), progress.on_event
            )
        report.print_result(console, result, str(args.runs_dir / result.run_id))
        results.append(result)
    if len(results) > 1:
        console.print(report.side_by_side(results), style="bold")
    if args.json:
        payload: object = (
            results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        )
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    return 0 if all(r.status == "ok" for r in results) else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    err = Console(stderr=True, soft_wrap=True, highlight=False)

    def log(message: str) -> None:
        err.print(message, markup=False)

    try:
        if args.command == "run":
            return _run(args, [None])
        if args.command == "compare":
            return _run(args, _builders(args.builders))
        if args.command == "setup":
            toolchain.ensure(args.lab_dir.resolve(), log=log)
            return 0
        if args.command == "images":
            tc = toolchain.ensure(args.lab_dir.resolve(), log=log)
            try:
                client = DockerBackend(tc).client()
            except BackendUnavailable as exc:
                if not args.if_engine:
                    raise
                log(f"no runner images built: {exc.reason}")
                return 0
            built = images.ensure(client, tc, args.base_image, log=log)
            log(f"runner image {built.runner} on {built.base}")
            return 0
        if args.command == "matrix":
            return _matrix(args, log)
        if args.command == "bench":
            tc = toolchain.Toolchain(args.lab_dir.resolve())
            runs = args.runs_dir.resolve()
            if args.suite == "backends":
                found = bench.backends(
                    tc, runs, repeat=args.repeat, base_image=args.base_image, log=log
                )
            else:
                backend, why = select.choose(args.backend, tc, args.base_image)
                log(f"backend {backend.name} ({why})")
                found = bench.builders(tc, runs, backend, log=log)
            out = bench.save(found, runs)
            print(bench.markdown(found))
            log(f"saved in {out}")
            return 0
        if args.command == "templates":
            for t in template.available().values():
                print(f"{t.name:12} {t.description}")
            return 0
    except LabError as exc:
        err.print(f"cachelab: error: {exc}", style="red", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("cachelab: interrupted; runners stopped", style="yellow")
        return EXIT_INTERRUPTED
    return EXIT_USAGE
