"""The history of a run: timestamped events, one JSON object per line.

Workers only append; checkers and reports read. ``t_mono`` is CLOCK_MONOTONIC, which is
system-wide on one host, so events of runners in different namespaces or containers compare.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

# ops and their phases
RUN = "run"  # phases: start, output (its first line), end (rc)
CHECK = "check"  # phase ok: the template's check passed in the runner's venv
LOCK = "lock"  # phases: request, wait, acquired, released (key, lock)


@dataclass(frozen=True)
class Observation:
    """What a builder reports, before the orchestrator stamps it with a time and a runner."""

    op: str
    phase: str
    key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: tuple[float, float] | None = None  # (mono, wall) where the builder stamped it itself


@dataclass(frozen=True)
class Event:
    t_mono: float
    t_wall: float
    runner: str
    op: str
    phase: str
    key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        record = asdict(self)
        record.update(record.pop("data"))
        return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Event:
        record = json.loads(line)
        core = {k: record.pop(k) for k in ("t_mono", "t_wall", "runner", "op", "phase")}
        return cls(**core, key=record.pop("key", None), data=record)


def now() -> tuple[float, float]:
    return time.monotonic(), time.time()


class History:
    """A thread-safe, append-only JSONL history that is flushed line by line."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._events: list[Event] = []

    def append(self, event: Event) -> None:
        with self._lock:
            if self._file.closed:  # a runner thread that outlived an interrupted run
                return
            self._file.write(event.to_json() + "\n")
            self._file.flush()
            self._events.append(event)

    def record(
        self, runner: str, obs: Observation, stamp: tuple[float, float] | None = None
    ) -> Event:
        """Append ``obs`` for ``runner``, stamped by its source, else at ``stamp`` (arrival,
        as (mono, wall)), else now."""
        t_mono, t_wall = obs.at or stamp or now()
        event = Event(t_mono, t_wall, runner, obs.op, obs.phase, obs.key, dict(obs.data))
        self.append(event)
        return event

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: Path) -> list[Event]:
    with path.open(encoding="utf-8") as f:
        return [Event.from_json(line) for line in f if line.strip()]
