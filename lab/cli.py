"""``cachelab``: the command line. Usage errors exit 2, failed runs 1, interrupts 130."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console

from lab import __version__, bench, images, orchestrator, report, scenario, template, toolchain
from lab.errors import BackendUnavailable, LabError
from lab.runners import select
from lab.runners.docker import DockerBackend

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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

    run = sub.add_parser("run", help="run a scenario")
    run.add_argument("scenario", help="a scenario file, or a name from the scenarios directory")
    run.add_argument(
        "--backend",
        choices=select.CHOICES,
        default="auto",
        help="docker: containers; local: private namespaces, no engine needed; "
        "auto (default): docker where the engine answers and has the runner image",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scenario field, e.g. --set runners=4 (repeatable)",
    )
    run.add_argument("--json", action="store_true", help="print result.json to stdout")
    run.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        help="where run directories go (default: runs)",
    )
    run.add_argument(
        "--scenarios-dir",
        type=Path,
        default=Path("scenarios"),
        help="where scenario names are looked up (default: scenarios)",
    )

    sub.add_parser("setup", help="build the offline wheelhouse and install the pinned uv versions")
    imgs = sub.add_parser("images", help="build the runner images that are missing or out of date")
    imgs.add_argument(
        "--if-engine",
        action="store_true",
        help="do nothing (exit 0) where no Docker engine answers, for `make reproduce`",
    )
    sub.add_parser("templates", help="list the demo project templates")

    bench_cmd = sub.add_parser("bench", help="benchmarks, measured side by side in one run")
    bench_cmd.add_argument("suite", choices=["backends"], help="backends: docker against local")
    bench_cmd.add_argument("--repeat", type=int, default=3, help="trials per configuration")
    bench_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"))
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same cleanup path as Ctrl-C


def _run(args: argparse.Namespace) -> int:
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    resolved = scenario.load(path, args.overrides)
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend, why = select.choose(args.backend, tc, args.base_image)
    # Human output goes to stderr when stdout carries JSON.
    console = Console(stderr=args.json, soft_wrap=True, highlight=False)
    names = [f"runner-{i}" for i in range(1, resolved.runners + 1)]
    console.print(
        f"scenario {resolved.name} from {path}: {resolved.runners} runners, "
        f"template {resolved.template}, build delay {resolved.build_delay:g} s, "
        f"{resolved.topology.value} at {resolved.checkout_path}, uv {resolved.uv_version}"
    )
    console.print(f"backend {backend.name} ({why})")
    with report.Progress(Console(stderr=True), names) as progress:
        result = orchestrator.run(resolved, backend, tc, args.runs_dir.resolve(), progress.on_event)
    run_path = args.runs_dir / result.run_id
    report.print_result(console, result, str(run_path))
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0 if result.status == "ok" else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    err = Console(stderr=True, soft_wrap=True, highlight=False)

    def log(message: str) -> None:
        err.print(message, markup=False)

    try:
        if args.command == "run":
            return _run(args)
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
        if args.command == "bench":
            tc = toolchain.Toolchain(args.lab_dir.resolve())
            found = bench.backends(tc, args.runs_dir.resolve(), repeat=args.repeat, log=log)
            out = bench.save(found, args.runs_dir.resolve())
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
