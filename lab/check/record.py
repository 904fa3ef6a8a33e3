"""A run directory as the checker reads it: nothing else, and no runner's verdict on itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lab import history, identity, nemesis
from lab.contract import Event, Op, Phase, parse_event_line
from lab.errors import UsageError


@dataclass(frozen=True)
class RunRecord:
    root: Path
    expected: dict[str, identity.Expected]  # by runner
    events: list[Event]
    lock_timeout: float | None = None  # what the scenario allowed any wait for a lock
    locks_exclude: bool = True  # what the environment promised (faults.json)

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def runners(self) -> list[str]:
        return list(self.expected)

    @cached_property
    def ends(self) -> dict[str, float]:
        """When each runner ended (t_mono of its exit)."""
        return {e.runner: e.t_mono for e in self.events if e.op is Op.RUN and e.phase is Phase.END}

    def struck(self, runner: str) -> list[Event]:
        """The faults that struck ``runner`` on purpose (failpoints, the nemesis)."""
        return [e for e in self.events if e.op is Op.FAULT and e.runner == runner]

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
        setup = json.loads(path.read_text()) if (path := root / "scenario.json").is_file() else {}
        timeout = setup.get("lock_timeout")
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{root}: cannot read its record: {exc}") from exc
    lock_timeout = float(timeout) if timeout else None
    return RunRecord(root, expected, events, lock_timeout, nemesis.locks_exclude(root))
