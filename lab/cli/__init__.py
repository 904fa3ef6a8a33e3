"""``cachelab``: the command line.

One table of commands (``COMMANDS``), a module per family: ``runs`` (run, compare, check,
report, archive), ``campaigns`` (matrix, torture, catalog, demo), ``bench`` and ``machine``
(setup, images, templates, swarm). Every handler takes the parsed arguments and the shared
``Context`` and returns an exit code (``errors.ExitCode``, listed in every --help); a
usage error, a failure and an interrupt are turned into one line and a code here, once.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from lab import __version__
from lab.cli import bench, campaigns, machine, runs
from lab.cli.context import Command, Context
from lab.errors import EXIT_CODES_HELP, ExitCode, LabError
from lab.log import logging_to

COMMANDS: tuple[Command, ...] = (
    *runs.COMMANDS,
    *campaigns.COMMANDS,
    *bench.COMMANDS,
    *machine.COMMANDS,
)


def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], command: Command) -> None:
    parser = sub.add_parser(
        command.name,
        help=command.help,
        description=command.help,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if command.options is not None:
        command.options(parser)
    if command.actions:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        for action in command.actions:
            _add(actions, action)
    else:
        parser.set_defaults(handler=command.handler)


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(
        prog="cachelab",
        description="A lab for build caches shared by many CI runners.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    made.add_argument("--version", action="version", version=f"cachelab {__version__}")
    made.add_argument(
        "--lab-dir",
        type=Path,
        default=Path(".lab"),
        help="the offline wheelhouse and pinned tools (default: .lab)",
    )
    made.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="base of the runner image, e.g. python:3.11-slim where a registry is reachable "
        "(default: an image imported from Debian's packages)",
    )
    sub = made.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        _add(sub, command)
    return made


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same cleanup path as Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # a usage error exits 2 here, before anything starts
    signal.signal(signal.SIGTERM, _on_sigterm)
    ctx = Context.of(args)
    with logging_to(ctx.say):
        try:
            code: int = args.handler(args, ctx)
        except LabError as exc:
            ctx.err.print(f"cachelab: error: {exc}", style="red", markup=False)
            return exc.exit_code
        except KeyboardInterrupt:
            ctx.err.print("cachelab: interrupted; runners stopped", style="yellow")
            return ExitCode.INTERRUPTED
    return code
