"""The reference narrow-lock builder: a PEP 660 editable-install frontend with a shared cache.

It builds outside any cache lock and takes the cache entry's lock only to publish the
finished, immutable result with one atomic rename. A separate lock inside the source tree
serializes builds of one physical tree, the only thing that is really shared while a backend
runs.

This package runs inside runners: it imports only filelock, pyproject-hooks, installer,
packaging, the standard library and ``lab.contract``. The builder runs as ``python -m
lab.refbuilder``:

    python -m lab.refbuilder editable SRC --cache DIR --venv DIR --wheelhouse DIR
        [--policy narrow|coalesce|wide|none] [--python PY] [--import MODULE] [--runner NAME]
        [--history FILE] [--freshness content|ctime] [--no-tree-lock] [--lock-timeout SECONDS]
    python -m lab.refbuilder sweep --cache DIR
    python -m lab.refbuilder clean --cache DIR

This module is what a caller needs to start it, and all that importing the package loads:
the ``Request`` and the policies, and the command line, every flag spelled here next to its
inverse (``parser`` reads a command line, ``request_of`` makes the ``Request`` it carries,
``editable_argv`` writes the command line for a ``Request``). The standard library and
``lab.contract`` only: none of the builder's dependencies.
"""

from __future__ import annotations

import argparse
import enum
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.contract import Phase

DEFAULT_LOCK_TIMEOUT_S = 300.0  # uv's UV_LOCK_TIMEOUT default


class Policy(enum.StrEnum):
    """Which locks a builder takes, and when (``_plan.LOCKING``)."""

    NARROW = "narrow"
    COALESCE = "coalesce"
    WIDE = "wide"
    NONE = "none"


# The policy a builder runs unless told otherwise: narrow's locking, and one build, not N,
# for identical checkouts. It became the default once it had passed the fault campaign on
# both backends (0 invalid, 0 leaked) and the benchmarks' bars (docs/benchmarks.md).
DEFAULT_POLICY = Policy.COALESCE


class Freshness(enum.StrEnum):
    """When an entry built in one checkout may serve another at the same path."""

    CONTENT = "content"  # identical trees (content and git state): reuse
    CTIME = "ctime"  # uv's rule: the files' ctimes count too, so every checkout rebuilds


@dataclass(frozen=True)
class Request:
    """What to install where. Paths are as the builder sees them (inside a runner)."""

    source: Path
    cache: Path
    venv: Path
    wheelhouse: Path
    python: Path  # the interpreter for build envs and the target venv
    policy: Policy = DEFAULT_POLICY
    module: str | None = None  # imported in the venv afterwards, if given
    freshness: Freshness = Freshness.CONTENT
    tree_lock: bool = True  # off only to show what a shared tree does without it
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S  # the longest wait for any lock


@dataclass(frozen=True)
class Installed:
    """What one editable install did: printed as JSON on the builder's stdout."""

    key: str
    revision: str
    hit: bool
    publish: Phase | None  # what became of our build; None on a hit
    wheel: str
    side_effects: dict[str, str]
    imported_from: str | None
    cached: bool = True  # False: the cache could not be written, it was built without it


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
        "--freshness",
        request.freshness.value,
        *([] if request.tree_lock else ["--no-tree-lock"]),
        "--lock-timeout",
        f"{request.lock_timeout:g}",
    ]


def request_of(args: argparse.Namespace) -> Request:
    """The request that the ``editable`` command ``args`` (as ``parser`` read them) carries."""
    return Request(
        source=args.source,
        cache=args.cache,
        venv=args.venv,
        wheelhouse=args.wheelhouse,
        python=args.python,
        policy=args.policy,
        module=args.module,
        freshness=args.freshness,
        tree_lock=args.tree_lock,
        lock_timeout=args.lock_timeout,
    )


_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


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


def parser() -> argparse.ArgumentParser:
    """The builder's command line: ``editable``, ``sweep`` and ``clean``."""
    top = argparse.ArgumentParser(
        prog="python -m lab.refbuilder",
        description="The reference narrow-lock editable builder.",
        epilog="Exit codes: 0 installed, 1 the build or install failed, 2 bad arguments or a "
        "pyproject.toml that cannot be used.",
    )
    sub = top.add_subparsers(dest="command", required=True)
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
    return top


__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "DEFAULT_POLICY",
    "Freshness",
    "Installed",
    "Policy",
    "Request",
    "editable_argv",
    "parser",
    "request_of",
]
