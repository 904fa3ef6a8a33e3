from __future__ import annotations

from lab.runners.base import LineCallback


def collect(lines: list[str]) -> LineCallback:
    """A line callback that keeps "<stream>:<line>" strings."""

    def on_line(stream: str, line: str) -> None:
        lines.append(f"{stream}:{line}")

    return on_line
