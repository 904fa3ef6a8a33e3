"""What a checker finds: violations (something unsafe was seen) and unknowns (something could
not be judged). Checkers are pure functions returning ``Findings``; they compose by adding."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(enum.StrEnum):
    # a runner's venv against what its own checkout must give
    NOT_INSTALLED = "not-installed"  # no venv, no distribution, or the module does not import
    WRONG_IDENTITY = "wrong-identity"  # the module carries another checkout's marker
    WRONG_VERSION = "wrong-version"
    WRONG_REQUIREMENTS = "wrong-requirements"
    OUTSIDE_CHECKOUT = "outside-checkout"  # the module imports from outside its checkout
    NATIVE_MISMATCH = "native-mismatch"  # the compiled code's answer, or its import, is wrong
    CHECK_FAILED = "check-failed"  # the template's own check fails in the venv
    UNCLEAN_FAILURE = "unclean-failure"  # a runner failed with a traceback, not a message
    # a runner's install against a cold build of its checkout's content (the oracle)
    METADATA_DIFFERS = "metadata-differs"  # a METADATA header or the description body
    FILES_DIFFER = "files-differ"  # an installed file, script or entry point
    POINTS_ELSEWHERE = "points-elsewhere"  # a .pth line or an import hook
    # the final cache
    CORRUPT_WHEEL = "corrupt-wheel"  # not a zip, or its RECORD does not match its files
    CORRUPT_ARCHIVE = "corrupt-archive"  # an unpacked wheel whose files differ from its RECORD
    MANIFEST_MISMATCH = "manifest-mismatch"  # an entry's manifest and its wheel disagree
    REWRITTEN_ENTRY = "rewritten-entry"  # the entry's wheel is not what was published there
    LEAKED_SCRATCH = "leaked-scratch"  # private build dirs left behind by runners that exited
    # the history
    OVERLAPPING_HOLDS = "overlapping-holds"  # two runners held one exclusive lock at once
    UNBOUNDED_WAIT = "unbounded-wait"  # a wait for a lock outlasted the scenario's lock timeout
    SWEPT_LIVE_SCRATCH = "swept-live-scratch"  # a sweeper removed a live builder's scratch dir


@dataclass(frozen=True)
class Violation:
    kind: Kind
    message: str
    runner: str | None = None
    key: str | None = None  # the lock, cache entry or file concerned
    expected: Any = None
    found: Any = None


@dataclass(frozen=True)
class Unknown:
    """Something that could not be judged, and why."""

    reason: str
    runner: str | None = None


@dataclass(frozen=True)
class Findings:
    violations: list[Violation] = field(default_factory=list)
    unknowns: list[Unknown] = field(default_factory=list)

    def __add__(self, other: Findings) -> Findings:
        return Findings(self.violations + other.violations, self.unknowns + other.unknowns)
