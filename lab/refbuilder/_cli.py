"""The builder's entry point: read the command line (the package's own module), run its command, and
exit with its code: 0 installed, 1 the build or install failed, 2 bad arguments or a
pyproject.toml that cannot be used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from lab import refbuilder
from lab.contract import FailpointError, Op, Phase
from lab.refbuilder import _failpoints
from lab.refbuilder._cache import Cache
from lab.refbuilder._errors import BuildError, CacheError, InstallError, ProjectError
from lab.refbuilder._events import Events
from lab.refbuilder._frontend import editable_install


def main(argv: Sequence[str] | None = None) -> int:
    args = refbuilder.parser().parse_args(argv)
    try:
        _failpoints.check_setting()
    except FailpointError as exc:
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
        envs, in_use = cache.clean_envs()
        cache.sweep()  # what the builders that are gone left
        print(json.dumps({"removed": entries + envs, "in_use": in_use}))
        return 0
    if not (args.source / "pyproject.toml").is_file() and not (args.source / "setup.py").is_file():
        print(f"error: {args.source} has neither pyproject.toml nor setup.py", file=sys.stderr)
        return 2
    events = Events(args.runner, args.history)
    try:
        outcome = editable_install(refbuilder.request_of(args), events)
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
