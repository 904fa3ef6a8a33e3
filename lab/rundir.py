"""Everything the lab writes under a runs directory, and where: the second contract, between
whoever writes a run (``lab.run``) and whoever reads it later (the checker, the pages, the
archive, the campaigns). No other module spells a name below; a test fails where one does.

A run's directory, ``<runs dir>/<time>-<scenario>-<tag>/``, as ``RunDir`` names each part:
the scenario, what each runner must find (``expected.json``) and what its checkout's cold
build gives (``oracle.json``), the faults, where it ran, the history (one event a line), the
result, the page, a log per runner, the cache (a link where runs share one), the checkouts,
each runner's TMPDIR and HOME, its view of the cache where locks lie, swarm clock exchanges.

Beside the runs: ``latest``, ``.mnt/`` (local mount points), ``.mounts/`` (fault mounts
until they are gone). Compares and campaigns get a directory each (``CampaignDir``). A
runner's log: a line per line of its output, as it came: ``<t_mono> <stream> <text>``.
"""

from __future__ import annotations

import enum
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from lab.contract import Event, parse_event_line
from lab.errors import LabError, UsageError

PAGE = "report.html"  # a run's, a compare's or a campaign's page
LATEST = "latest"
MOUNT_POINTS = ".mnt"
MOUNT_REGISTRY = ".mounts"
_LOG_SUFFIX = ".log"


class _In:
    """A name inside a directory, as an attribute of the class that stands for it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, directory: _Directory, owner: type | None = None) -> Path:
        return directory.path / self.name


class _Directory(Protocol):
    @property
    def path(self) -> Path: ...


def _made(runs_dir: Path, names: Iterable[str]) -> Path:
    """The first of ``names`` that could be made in ``runs_dir``, made."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            (runs_dir / name).mkdir()
        except FileExistsError:
            continue
        return runs_dir / name
    raise LabError(f"cannot create a directory in {runs_dir}: every name tried exists")


@dataclass(frozen=True)
class RunDir:
    """One run's directory. Paths only: nothing here reads or writes but ``create``,
    ``point_latest`` and ``check``."""

    path: Path

    scenario = _In("scenario.json")
    identities = _In("expected.json")  # what each runner must find
    oracle = _In("oracle.json")  # what a cold build of each one's checkout gives
    history = _In("history.jsonl")
    result = _In("result.json")
    faults = _In("faults.json")
    environment = _In("environment.json")
    page = _In(PAGE)
    logs = _In("logs")
    cache = _In("cache")
    clock = _In("clock")  # where swarm tasks exchange clock readings with the lab

    @property
    def run_id(self) -> str:
        return self.path.name

    def log(self, runner: str) -> Path:  # a runner's output, as it arrived
        return self.logs / f"{runner}{_LOG_SUFFIX}"

    def runner_logs(self) -> dict[str, Path]:  # by runner, in name order
        return {p.stem: p for p in sorted(self.logs.glob(f"*{_LOG_SUFFIX}"))}

    def checkout(self, name: str) -> Path:  # a rendered project
        return self.path / "checkouts" / name

    def tmp(self, runner: str) -> Path:  # its private TMPDIR
        return self.path / "runners" / runner / "tmp"

    def home(self, runner: str) -> Path:  # its private HOME
        return self.path / "runners" / runner / "home"

    def view(self, runner: str) -> Path:  # where it sees the cache through a mount of its own
        return self.path / "views" / runner

    @property
    def mount_points(self) -> Path:  # the local backend's, shared by the runs beside: as CI's
        return self.path.parent / MOUNT_POINTS

    @classmethod
    def create(cls, runs_dir: Path, scenario: str) -> RunDir:
        """``<time>-<scenario>-<tag>``: the tag is random, because the run's id also names
        and labels its containers, and two labs (each with its own runs directory) may start
        a run of one scenario on one engine in the same second."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        tried = (f"{stamp}-{scenario}-{secrets.token_hex(2)}" for _ in range(100))
        return cls(_made(runs_dir, tried))

    @classmethod
    def latest(cls, runs_dir: Path) -> RunDir:
        """The newest run in ``runs_dir``, by the link ``point_latest`` keeps."""
        return cls(runs_dir / LATEST)

    def point_latest(self) -> None:
        """Make ``latest`` beside this run name it, replacing the link atomically."""
        link = self.path.parent / LATEST
        tmp = self.path.parent / f".{LATEST}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.path.name)
        tmp.replace(link)

    def check(self) -> None:
        """UsageError naming what is missing where this is not a run directory."""
        needed = [self.identities, self.history]
        if self.path.is_dir() and all(p.is_file() for p in needed):
            return
        missing = ", ".join(p.name for p in needed if not p.is_file())
        what = missing if self.path.is_dir() else "the directory"
        raise UsageError(
            f"{self.path} is not a run directory of this lab: {what} missing (a run directory "
            f"holds {self.identities.name} and {self.history.name})"
        )


class CampaignKind(enum.StrEnum):
    """What a directory of runs (or of links to runs) is: its record is ``<kind>.json``."""

    COMPARE = "compare"
    MATRIX = "matrix"
    TRIALS = "trials"  # the matrix's shared-tree trials
    TORTURE = "torture"
    CATALOG = "catalog"
    DEMO = "demo"
    BENCH = "bench"
    FUZZ = "fuzz"


@dataclass(frozen=True)
class CampaignDir:
    path: Path
    kind: CampaignKind

    @property
    def record(self) -> Path:
        return self.path / f"{self.kind}.json"

    @property
    def summary(self) -> Path:
        return self.path / f"{self.kind}.md"

    page = _In(PAGE)
    runs = _In("runs")  # where its runs go (a compare's and a demo's are in the runs dir)

    def part(self, name: str) -> PartDir:
        """A directory of its own for one part: a trial, a catalog cell, a demo scene."""
        return PartDir(self.path / name)

    def chart(self, name: str) -> Path:  # one of its page's charts, also kept for documents
        return self.path / f"chart-{name}.svg"

    def charts(self) -> dict[str, Path]:
        return {p.stem.removeprefix("chart-"): p for p in sorted(self.path.glob("chart-*.svg"))}

    @classmethod
    def create(cls, runs_dir: Path, kind: CampaignKind, *names: str) -> CampaignDir:
        """``<kind>-<names>-<time>``, made now (``-2``, ``-3``... where two are made in the
        same second)."""
        base = "-".join([kind, *names, time.strftime("%Y%m%d-%H%M%S")])
        tried = (base if n == 1 else f"{base}-{n}" for n in range(1, 100))
        return cls(_made(runs_dir, tried), kind)

    @classmethod
    def find(cls, path: Path) -> CampaignDir | None:
        """The campaign whose record ``path`` holds, if any."""
        for kind in CampaignKind:
            found = cls(path, kind)
            if found.record.is_file():
                return found
        return None


@dataclass(frozen=True)
class PartDir:
    """One part of a campaign (a fault campaign's trial, a catalog's cell, a demo's scene, a
    fuzzed subject): its runs, its own cache, the runners' views of it, a fuzzed tree."""

    path: Path

    runs = _In("runs")
    cache = _In("cache")
    views = _In("views")
    tree = _In("tree")  # the fuzzer's project tree (a subject's, edited and installed in place)


@dataclass(frozen=True)
class LogLine:
    """One line of a runner's output as its log keeps it."""

    t_mono: float  # when it arrived
    stream: str  # stdout, stderr
    text: str

    def __str__(self) -> str:
        return f"{self.t_mono:.6f} {self.stream} {self.text}"

    @classmethod
    def parse(cls, line: str) -> LogLine:
        stamp, _, rest = line.partition(" ")
        stream, _, text = rest.partition(" ")
        try:
            return cls(float(stamp), stream, text)
        except ValueError:  # not written by RunnerLog: the whole line is text
            return cls(0.0, "", line)

    @property
    def is_event(self) -> bool:
        """Whether it carries a contract event (the builder's, the probe's)."""
        return parse_event_line(self.text) is not None


def read_log(path: Path) -> list[LogLine]:
    """A runner's log; none where it has none."""
    if not path.is_file():
        return []
    return [LogLine.parse(line) for line in path.read_text(errors="replace").splitlines()]


class _Appender:
    """A file appended to line by line from the runners' reader threads, each line flushed;
    lines that come after it was closed (a thread that outlived an interrupted run) are
    dropped."""

    def __init__(self, path: Path) -> None:
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._lines = 0

    def _append(self, text: str) -> bool:
        """Append ``text`` as a line; True if it is the first this appender wrote."""
        with self._lock:
            if self._file.closed:
                return False
            self._file.write(f"{text}\n")
            self._file.flush()
            self._lines += 1
            return self._lines == 1

    def close(self) -> None:
        with self._lock:
            self._file.close()


class RunnerLog(_Appender):
    """A runner's log, fed by its stdout and stderr readers as lines arrive (appended to: a
    scenario's steps run a runner more than once)."""

    def write(self, line: LogLine) -> bool:
        """Append one line; True if it is the runner's first (in this step)."""
        return self._append(str(line))


class HistoryWriter(_Appender):
    """A run's subscriber that appends every event to its history. ``t_mono`` is
    CLOCK_MONOTONIC, system-wide on one host: the events of runners in different namespaces
    or containers compare."""

    def __call__(self, event: Event) -> None:
        self._append(event.to_json())

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_history(path: Path) -> list[Event]:
    """A run's history; ValueError (or KeyError, TypeError) where a line is not an event."""
    with path.open(encoding="utf-8") as f:
        return [Event.from_json(line) for line in f if line.strip()]
