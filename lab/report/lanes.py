"""What a run's timeline is made of: one lane per runner, what it did as bars (on rows: its
phases, and one per lock), what struck it as marks, and where the scenario's steps began.
Times are seconds from the run's first event; nothing here knows about pixels."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# The row of a lane that holds its phases; lock rows are named by their keys.
PHASES_ROW = "phases"


class BarKind(enum.StrEnum):
    """What a bar shows. Each kind is drawn with its own pattern and named in its label."""

    RUN = "run"
    ENV = "env"
    BUILD = "build"
    INSTALL = "install"
    PUBLISH = "publish"
    CHECK = "check"
    WAIT = "wait"
    HOLD = "hold"


class MarkKind(enum.StrEnum):
    FAULT = "fault"  # a fault struck on purpose
    TIMEOUT = "timeout"  # a lock wait given up
    WARNING = "warning"  # the subject went on, with a warning
    FAILED = "failed"  # the subject gave up
    SWEEP = "sweep"  # a scratch dir swept


@dataclass(frozen=True)
class Bar:
    id: str  # unique in the run, stable between renderings
    runner: str
    row: str  # PHASES_ROW, or a lock key
    kind: BarKind
    start: float  # seconds from the run's first event
    end: float
    label: str
    details: tuple[tuple[str, str], ...] = ()  # for hover and the table, from the history
    holder: str | None = None  # a wait's: the id of the hold it waited on

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Mark:
    runner: str
    kind: MarkKind
    at: float
    label: str
    details: tuple[tuple[str, str], ...] = ()


@dataclass
class Lane:
    runner: str
    node: str | None = None  # the host it ran on, where that is not the lab's (a swarm node)
    rows: list[str] = field(default_factory=lambda: [PHASES_ROW])
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    rc: int | None = None


@dataclass(frozen=True)
class StepStart:
    """Where one of a scenario's steps began, across every lane."""

    at: float
    label: str  # "2 delete"


@dataclass(frozen=True)
class Timeline:
    lanes: list[Lane]
    duration: float  # from the first event to the last
    lock_kinds: dict[str, str]  # lock key -> its kind, where the history says
    steps: list[StepStart] = field(default_factory=list)
