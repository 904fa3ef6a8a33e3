"""The command line's options, each defined once, and the readers of their values. A value
that does not read is a UsageError naming the option and what it takes (exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from lab import subjects
from lab.errors import ExitCode, UsageError
from lab.runners import select
from lab.scenario import MAX_RUNNERS
from lab.vocabulary import RunStatus, Verdict

# every subject but uv, which also takes a version
_NAMED = [name for name in subjects.names() if name != "uv"]


def count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
        return value

    return parse


def counts(text: str) -> tuple[int, ...]:
    """A comma-separated list of runner counts, each 1-64 (a scenario's most): the distinct
    ones, fewest first."""
    found = {count(1)(part.strip()) for part in text.split(",")}
    if max(found) > MAX_RUNNERS:
        raise argparse.ArgumentTypeError(f"at most {MAX_RUNNERS} runners, got {text!r}")
    return tuple(sorted(found))


def choices(option: str, text: str, allowed: Sequence[str]) -> list[str]:
    """A comma-separated choice of ``allowed`` names, at least one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if not names or unknown:
        raise UsageError(f"{option} {text}: choose from {', '.join(allowed)}")
    return names


def subject_list(text: str) -> list[str]:
    """``--subjects``: each checked, as the scenario field would be."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"--subjects {text!r}: name at least one of {', '.join(subjects.names())}")
    try:
        return [subjects.canonical(n) for n in names]
    except ValueError as exc:
        raise UsageError(f"--subjects {text}: {exc}") from None


def uv_release(version: str) -> str:
    try:
        return subjects.uv_release(version)
    except ValueError as exc:
        raise UsageError(f"--uv-version: {exc}") from None


def pause_range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        bounds = (float(low), float(high)) if sep else (float(low), float(low))
    except ValueError:
        bounds = (-1.0, -1.0)
    if not 0 <= bounds[0] <= bounds[1]:
        raise UsageError(f"--pause {text}: expected MIN-MAX seconds, e.g. 1-15")
    return bounds


def exit_code(statuses: Sequence[RunStatus | None], verdicts: Sequence[Verdict] = ()) -> int:
    """The code of several runs: the worst of them (``errors.ExitCode``)."""
    if any(s in (RunStatus.FAILED, None) for s in statuses) or Verdict.INVALID in verdicts:
        return ExitCode.FAILED
    if RunStatus.TIMEOUT in statuses or Verdict.UNKNOWN in verdicts:
        return ExitCode.UNKNOWN
    return ExitCode.OK


def add_subjects(parser: argparse.ArgumentParser, default: str | None, what: str) -> None:
    parser.add_argument(
        "--subjects",
        default=default,
        metavar="LIST",
        help=f"comma-separated subjects: uv, uv@VERSION, {', '.join(_NAMED)} ({what})",
    )


def add_backend(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument(
        "--backend",
        choices=select.CHOICES,
        default="auto",
        help=f"the runner backend{what}: docker (containers), local (private namespaces, no "
        "engine needed), swarm (swarm jobs: the test swarm of `cachelab swarm up`, else the "
        "manager DOCKER_HOST names), auto (default: docker where the engine answers and has "
        "the image)",
    )


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=Path("runs"),
        help="where run directories go (default: runs)",
    )


def add_overrides(parser: argparse.ArgumentParser, what: str, example: str) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a field {what}, e.g. --set {example} (repeatable)",
    )


def add_scenario(parser: argparse.ArgumentParser, *, project: bool) -> None:
    """A scenario to run, and where its runs go; ``project``: whether the command runs it
    on a project of the user's (``--project``) too. A command offers no option it ignores."""
    parser.add_argument(
        "scenario", help="a scenario file, or the name of one of the lab's scenarios"
    )
    add_backend(parser)
    add_overrides(parser, "of the scenario", "runners=4")
    parser.add_argument(
        "--json", action="store_true", help="print the result (a campaign: its record) as JSON"
    )
    add_runs_dir(parser)
    if project:
        parser.add_argument(
            "--project",
            type=Path,
            metavar="PATH",
            help="run it on this project instead of the scenario's template: a directory, a "
            "git checkout or an sdist (.tar.gz); each checkout is a copy of it (`cachelab "
            "setup --project PATH` first fetches what its build needs)",
        )
    parser.add_argument(
        "--scenarios-dir",
        type=Path,
        help="where scenario names are looked up (default: the lab's scenarios)",
    )


def add_cache(parser: argparse.ArgumentParser) -> None:
    """Where runs find their cache: each its own, a directory kept across runs, a volume."""
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="an existing directory every run shares as its cache, warm from the last "
        "(default: each run its own, empty)",
    )
    parser.add_argument(
        "--cache-volume",
        metavar="NAME",
        help="swarm: each task mounts this named volume as the cache (each node's engine "
        "makes it from --cache-volume-opt), e.g. an NFS export; --cache-dir is where this "
        "host sees the same storage, for the checker",
    )
    parser.add_argument(
        "--cache-volume-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the local volume driver for --cache-volume, e.g. type=nfs, "
        "o=addr=10.0.0.5,rw, device=:/export/cache (repeatable)",
    )
