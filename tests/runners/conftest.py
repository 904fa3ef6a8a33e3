from __future__ import annotations

from lab.runners.base import LineCallback, Stamp


def collect(lines: list[str], stamps: list[Stamp] | None = None) -> LineCallback:
    """A line callback that keeps "<stream>:<line>" strings (and the stamps it is given)."""

    def on_line(stream: str, line: str, stamp: Stamp | None = None) -> None:
        lines.append(f"{stream}:{line}")
        if stamps is not None and stamp is not None:
            stamps.append(stamp)

    return on_line
