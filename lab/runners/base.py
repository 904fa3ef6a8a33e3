"""What every runner backend provides.

A backend starts one process per runner. Each runner sees its checkout at a path the scenario
chooses, the shared cache, its own TMPDIR and HOME, a tmpfs ``.venv``, no network, and the
named resources its subject and template need, read-only. Backends map names to paths and
know nothing of what the resources hold. Output lines are handed to a callback as they
arrive, so the orchestrator can stamp them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lab.rundir import RunDir
from lab.runners.view import Mount, RunnerView


@dataclass(frozen=True)
class NodeClock:
    """How one node's wall clock maps onto the lab's clocks, as an exchange measured it: a
    runner on another host stamps its lines there, and they arrive late and in batches."""

    node: str
    shift_s: float  # the lab's t_mono = the node's t_wall + shift_s
    error_s: float  # how far off a placed time can be, either way
    wall_minus_mono_s: float  # the lab's own: its t_wall = its t_mono + this

    def place(self, node_wall: float) -> tuple[float, float]:
        """A time the node stamped, as (t_mono, t_wall) on the lab's clocks."""
        t_mono = node_wall + self.shift_s
        return t_mono, t_mono + self.wall_minus_mono_s


@dataclass(frozen=True)
class Stamp:
    """When a line was produced, by the clock of the node where it was."""

    node_wall: float
    clock: NodeClock


class LineCallback(Protocol):
    def __call__(self, stream: str, line: str, stamp: Stamp | None = None) -> None:
        """One output line (without its newline) of ``stream``; ``stamp``: where the backend
        stamps lines where they are produced (else the lab stamps them on arrival)."""


@dataclass(frozen=True)
class RunnerSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    workdir: str
    mounts: Sequence[Mount] = ()
    tmpfs: Sequence[str] = ()  # paths inside the runner that get a private tmpfs
    log_path: Path | None = None
    # Where a backend has nodes: the one it runs on, counted from 0 (None: the backend's
    # choice). One machine's backends have one.
    node: int | None = None


@dataclass(frozen=True)
class ViewRequest:
    """What a backend is asked to place for one runner."""

    run_dir: RunDir
    runner: str
    checkout_path: str  # where the scenario puts the checkout: one path for all, or one each
    resources: Mapping[str, Path]  # name -> host directory, read-only in the runner
    binaries: frozenset[str]  # programs beyond the runner's Python (a compiler)


class RunningRunner(Protocol):
    name: str
    pid: int | None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` seconds."""

    def kill(self) -> None:
        """Stop the runner and everything it started, now."""

    def pause(self) -> None:
        """Freeze the runner and everything it started (SIGSTOP, a cgroup freeze)."""

    def resume(self) -> None:
        """Let a paused runner go on."""


class Session(Protocol):
    """All runners of one run; leaving the session stops and removes every one of them."""

    def start(self, spec: RunnerSpec, on_line: LineCallback) -> RunningRunner: ...

    def __enter__(self) -> Session: ...

    def __exit__(self, *exc: object) -> None: ...


class Backend(Protocol):
    name: str
    # whether a runner's lines reach the lab as it prints them (a fault can then strike after
    # one), or only when it ends
    live_output: bool
    # where its runners see a cache of their own instead of the run's (a swarm's volume),
    # said for people; None: the run's own cache directory
    external_cache: str | None

    def check(self, binaries: frozenset[str] = frozenset(), /) -> None:
        """Raise BackendUnavailable with the reason if this backend cannot run here, with
        ``binaries`` (programs beyond the runner's Python, a compiler) on PATH."""

    def view(self, request: ViewRequest) -> RunnerView:
        """Where the runner sees its checkout, the cache, its private dirs, the named
        resources and the binaries. It writes nothing (a plan is made of views before the run
        directory holds anything); ToolchainError where a binary is missing."""

    def leftovers(self, run_dir: RunDir) -> list[str]:
        """What of the run is still there after it ended (containers, processes): nothing,
        unless cleaning up failed."""

    def session(self, run_id: str, /) -> Session:
        """A session for the runners of the run ``run_id`` (containers are named by it)."""
