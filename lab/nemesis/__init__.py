"""Faults on purpose, and what a run needs to know of them.

A run's faults (``RunFaults``) come from a scenario (its ``failpoints``) or a campaign's
seeded schedule (``schedule.py``):

- failpoints in the reference builder, armed per runner through the environment;
- process faults for any subject (``process.py``): a runner killed or paused a while after an
  event of its own output (uv's "Acquired" line, say);
- file-system faults (``mounts.py``): the cache on a small file system (ENOSPC), read-only,
  or seen by each runner through its own FUSE mount whose locks do not exclude ("locks that
  lie", as flock on some network file systems).

Each run writes its ``RunFaults`` into its directory (``RunDir.faults``): the checker reads
there what the environment promised (do locks exclude here?), never which subject ran.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.contract import FaultAction, Op, Phase


@dataclass(frozen=True)
class Strike:
    """Strike ``runner`` ``delay_s`` after the first event of its own that matches ``after``
    (``runner`` None: whichever runner's comes first): kill it, or pause it for ``pause_s``."""

    runner: str | None
    action: FaultAction  # KILL or PAUSE
    after: tuple[Op, Phase]
    delay_s: float = 0.0
    pause_s: float = 0.0


@dataclass(frozen=True)
class RunFaults:
    failpoints: Mapping[str, str] = field(default_factory=dict)  # runner -> failpoint setting
    strikes: tuple[Strike, ...] = ()
    cache_read_only: bool = False
    # runner -> the host directory it sees the shared cache through (a FUSE mount of it)
    cache_views: Mapping[str, Path] = field(default_factory=dict)
    locks_exclude: bool = True  # False where cache_views' locks do not exclude each other
    start_delays: Mapping[str, float] = field(default_factory=dict)  # runner -> seconds
    note: str = ""  # what the fault is, for people

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))  # type: ignore[no-any-return]


def save(path: Path, faults: RunFaults) -> None:
    path.write_text(json.dumps(faults.to_dict(), indent=2, sort_keys=True) + "\n")


def locks_exclude(path: Path) -> bool:
    """What the run's environment promised, as ``save`` wrote it at ``path``: whether its
    locks exclude (nothing written: yes)."""
    if not path.is_file():
        return True
    return bool(json.loads(path.read_text()).get("locks_exclude", True))
