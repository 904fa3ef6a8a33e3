"""What a campaign's report says of itself: the bars it is held to (how fast the builders
are against uv's own work, in ``bench`` and ``matrix``) and whether this run met them, and
the commit it was run at."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Claim:
    claim: str
    figure: str  # what was measured, as the claim states it
    met: bool | None  # None: a run it needs failed or was not measured


def claims_markdown(claims: Iterable[Claim], heading: str) -> list[str]:
    """The bars as a Markdown section under ``heading``."""
    mark = {True: "yes", False: "**no**", None: "n/a"}
    lines = [f"{heading} The bars", "", "| bar | measured | met |", "|---|---|---|"]
    lines += [f"| {c.claim} | {c.figure} | {mark[c.met]} |" for c in claims]
    return [*lines, ""]


def any_unmet(claims: Iterable[Claim]) -> bool:
    return any(c.met is False for c in claims)


def commit() -> str:
    """The lab's commit, where it runs from a git checkout."""
    try:
        said = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return said.stdout.strip()
