"""The builder's command line, and its inverse for whoever starts the builder.

    python -m lab.refbuilder editable SRC --cache DIR --venv DIR --wheelhouse DIR
        [--policy narrow|coalesce|wide|none] [--python PY] [--import MODULE] [--runner NAME]
        [--history FILE] [--key-glob GLOB]... [--freshness content|ctime] [--no-tree-lock]
        [--lock-timeout SECONDS]
    python -m lab.refbuilder sweep --cache DIR

Exit codes: 0 installed, 1 the build or install failed, 2 bad arguments or a pyproject.toml
that cannot be used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from lab.contract import Op, Phase
from lab.refbuilder import _failpoints
from lab.refbuilder._cache import Cache
from lab.refbuilder._env import remove_unused
from lab.refbuilder._errors import BuildError, CacheError, InstallError, ProjectError
from lab.refbuilder._events import Events
from lab.refbuilder._frontend import DEFAULT_LOCK_TIMEOUT_S, Request, editable_install
from lab.refbuilder._plan import DEFAULT_POLICY, Freshness, Policy

_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def editable_argv(request: Request, runner: str, history: Path | None = None) -> list[str]:
    """The arguments (after the program) that make the builder carry out ``request``."""
    return [
        "editable",
        str(request.source),
        "--cache",
        str(request.cache),
        "--venv",
        str(request.venv),
        "--wheelhouse",
        str(request.wheelhouse),
        "--python",
        str(request.python),
        "--policy",
        request.policy.value,
        *(["--import", request.module] if request.module else []),
        "--runner",
        runner,
        *(["--history", str(history)] if history else []),
        *(arg for glob in request.key_globs for arg in ("--key-glob", glob)),
        "--freshness",
        request.freshness.value,
        *([] if request.tree_lock else ["--no-tree-lock"]),
        "--lock-timeout",
        f"{request.lock_timeout:g}",
    ]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _module(text: str) -> str:
    if not _MODULE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a dotted module name")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lab.refbuilder",
        description="The reference narrow-lock editable builder.",
        epilog="Exit codes: 0 installed, 1 the build or install failed, 2 bad arguments or a "
        "pyproject.toml that cannot be used.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ed = sub.add_parser("editable", help="build (or reuse) and install SRC in editable mode")
    ed.add_argument("source", type=Path, metavar="SRC")
    ed.add_argument("--cache", type=Path, required=True, help="the shared cache directory")
    ed.add_argument("--venv", type=Path, required=True, help="the venv to install into")
    ed.add_argument(
        "--wheelhouse", type=Path, required=True, help="offline wheels for build environments"
    )
    ed.add_argument("--policy", type=Policy, choices=list(Policy), default=DEFAULT_POLICY)
    ed.add_argument(
        "--python",
        type=Path,
        default=Path(sys.executable),
        help="interpreter for build envs and the venv (default: this one)",
    )
    ed.add_argument(
        "--import",
        dest="module",
        type=_module,
        help="a module that must import in the venv afterwards",
    )
    ed.add_argument("--runner", default="builder", help="the name in history events")
    ed.add_argument("--history", type=Path, help="also append events to this JSONL file")
    ed.add_argument(
        "--key-glob",
        dest="key_globs",
        action="append",
        default=[],
        help="more cache-key inputs besides pyproject.toml, setup.py, setup.cfg",
    )
    ed.add_argument(
        "--freshness",
        type=Freshness,
        choices=list(Freshness),
        default=Freshness.CONTENT,
        help="content: identical checkouts share entries; ctime: as uv, they do not",
    )
    ed.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=DEFAULT_LOCK_TIMEOUT_S,
        metavar="SECONDS",
        help="the longest wait for any lock, then fail naming it "
        f"(default {DEFAULT_LOCK_TIMEOUT_S:g}, as uv's UV_LOCK_TIMEOUT)",
    )
    ed.add_argument(
        "--no-tree-lock",
        dest="tree_lock",
        action="store_false",
        help="narrow, coalesce: skip the lock inside the source tree (unsafe on a shared tree)",
    )
    sw = sub.add_parser("sweep", help="remove scratch dirs of builders that are gone")
    sw.add_argument("--cache", type=Path, required=True)
    cl = sub.add_parser(
        "clean", help="remove every entry and every build env nobody is using, safely"
    )
    cl.add_argument("--cache", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _failpoints.check_setting()
    except _failpoints.FailpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _command(args)
    except OSError as exc:  # a path that cannot be read or written: the cache, the history
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command in ("sweep", "clean"):
        if args.cache.exists() and not args.cache.is_dir():
            print(f"error: --cache {args.cache} is not a directory", file=sys.stderr)
            return 2
        cache = Cache(args.cache, Events(args.command))
        if args.command == "sweep":
            print(json.dumps({"swept": cache.sweep()}))
            return 0
        entries = cache.clean_entries()
        envs, in_use = remove_unused(cache)
        cache.sweep()  # what the builders that are gone left
        print(json.dumps({"removed": entries + envs, "in_use": in_use}))
        return 0
    if not (args.source / "pyproject.toml").is_file() and not (args.source / "setup.py").is_file():
        print(f"error: {args.source} has neither pyproject.toml nor setup.py", file=sys.stderr)
        return 2
    events = Events(args.runner, args.history)
    request = Request(
        source=args.source,
        cache=args.cache,
        venv=args.venv,
        wheelhouse=args.wheelhouse,
        python=args.python,
        policy=args.policy,
        module=args.module,
        key_globs=tuple(args.key_globs),
        freshness=args.freshness,
        tree_lock=args.tree_lock,
        lock_timeout=args.lock_timeout,
    )
    try:
        outcome = editable_install(request, events)
    except ProjectError as exc:  # the input is wrong
        events.emit(Op.BUILDER, Phase.FAILED, error=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BuildError, CacheError, InstallError) as exc:
        events.emit(Op.BUILDER, Phase.FAILED, error=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(outcome), sort_keys=True))
    return 0
