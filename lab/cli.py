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

from lab import __version__, orchestrator, report, scenario, template, toolchain
from lab.errors import LabError
from lab.runners.local import LocalBackend

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
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario")
    run.add_argument("scenario", help="a scenario file, or a name from the scenarios directory")
    run.add_argument(
        "--backend",
        choices=["local"],
        default="local",
        help="where runners run: local = private namespaces, no engine needed",
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
    sub.add_parser("templates", help="list the demo project templates")
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same cleanup path as Ctrl-C


def _run(args: argparse.Namespace) -> int:
    path = scenario.resolve_path(args.scenario, args.scenarios_dir)
    resolved = scenario.load(path, args.overrides)
    tc = toolchain.Toolchain(args.lab_dir.resolve())
    backend = LocalBackend(tc)
    # Human output goes to stderr when stdout carries JSON.
    console = Console(stderr=args.json)
    names = [f"runner-{i}" for i in range(1, resolved.runners + 1)]
    console.print(
        f"scenario {resolved.name} from {path}: {resolved.runners} runners, "
        f"template {resolved.template}, build delay {resolved.build_delay:g} s, "
        f"{resolved.topology.value}, uv {resolved.uv_version}, {backend.name} backend",
        highlight=False,
    )
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
    err = Console(stderr=True)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "setup":
            toolchain.ensure(args.lab_dir.resolve(), log=lambda m: err.print(m, highlight=False))
            return 0
        if args.command == "templates":
            for t in template.available().values():
                print(f"{t.name:12} {t.description}")
            return 0
    except LabError as exc:
        err.print(
            f"cachelab: error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True
        )
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("cachelab: interrupted; runners stopped", style="yellow")
        return EXIT_INTERRUPTED
    return EXIT_USAGE
