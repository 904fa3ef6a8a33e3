"""A run directory as the checker reads it: nothing else, and no runner's verdict on itself."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lab import history, identity
from lab.contract import Event, Op, Phase, parse_event_line
from lab.errors import UsageError


@dataclass(frozen=True)
class RunRecord:
    root: Path
    expected: dict[str, identity.Expected]  # by runner
    events: list[Event]

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def runners(self) -> list[str]:
        return list(self.expected)

    @cached_property
    def exits(self) -> dict[str, int | None]:
        """Each runner's exit code; None where the lab killed it (timeout, interrupt)."""
        found: dict[str, int | None] = {}
        for e in self.events:
            if e.op is Op.RUN and e.phase is Phase.END:
                rc = e.data.get("rc")
                found[e.runner] = rc if isinstance(rc, int) else None
        return found

    def facts(self, runner: str) -> dict[str, object] | None:
        """The last facts the probe reported for ``runner``."""
        reported = [
            e.data
            for e in self.events
            if e.op is Op.FACTS and e.phase is Phase.REPORTED and e.runner == runner
        ]
        return reported[-1] if reported else None

    def output(self, runner: str) -> list[str]:
        """The runner's output lines, without the contract's event lines."""
        path = self.root / "logs" / f"{runner}.log"
        if not path.is_file():
            return []
        lines = [line.split(" ", 2)[-1] for line in path.read_text(errors="replace").splitlines()]
        return [line for line in lines if parse_event_line(line) is None]


def load(root: Path) -> RunRecord:
    """The run at ``root``; UsageError names what is missing where it is not a run directory."""
    needed = [root / identity.FILENAME, root / history.FILENAME]
    missing = [p for p in needed if not p.is_file()]
    if not root.is_dir() or missing:
        what = ", ".join(p.name for p in missing) if root.is_dir() else "the directory"
        raise UsageError(
            f"{root} is not a run directory of this lab: {what} missing "
            "(a run directory holds expected.json and history.jsonl)"
        )
    try:
        expected = identity.load(root / identity.FILENAME)
        events = history.read(root / history.FILENAME)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{root}: cannot read its record: {exc}") from exc
    return RunRecord(root, expected, events)
