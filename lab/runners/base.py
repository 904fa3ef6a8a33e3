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


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Mount:
    source: Path  # on the host
    target: str  # inside the runner
    read_only: bool = False


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
class Needs:
    """What a subject or a template needs in a runner, by name; the backend decides where.

    ``resources`` are read-only directories the host's toolchain provides (the wheelhouse, a
    uv release, vendored crates); ``binaries`` are programs that must be on PATH (a
    compiler): a container image carries them, the local backend finds the host's.
    """

    resources: frozenset[str] = frozenset()
    binaries: frozenset[str] = frozenset()

    def __or__(self, other: Needs) -> Needs:
        return Needs(self.resources | other.resources, self.binaries | other.binaries)


@dataclass(frozen=True)
class RunnerView:
    """Where one runner sees the lab's things: what a subject's command line and environment
    are made of."""

    src: str  # the checkout
    cache: str  # the shared cache
    tmp: str  # a private TMPDIR
    home: str  # a private HOME
    python: str  # the runner's interpreter; venvs are made from it
    resources: Mapping[str, str]  # name -> path, for each resource the needs named
    bin_path: str  # PATH: the needed binaries' directories, then the system's
    mounts: tuple[Mount, ...] = ()  # the resources, read-only, where ``resources`` says


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

    def check(self, binaries: frozenset[str] = frozenset()) -> None:
        """Raise BackendUnavailable with the reason if this backend cannot run here, with
        ``binaries`` (programs beyond the runner's Python, a compiler) on PATH."""

    def view(
        self,
        run_dir: Path,
        runner: str,
        checkout_path: str,
        resources: Mapping[str, Path],
        binaries: frozenset[str],
    ) -> RunnerView:
        """Where ``runner`` sees its checkout (the scenario puts it at the absolute
        ``checkout_path``: one path for all runners, or one each), the cache, its private
        dirs, the named ``resources`` (host directories) and the ``binaries``. Raises
        ToolchainError where a binary is missing."""

    def leftovers(self, run_dir: Path) -> list[str]:
        """What of the run is still there after it ended (containers, processes): nothing,
        unless cleaning up failed."""

    def session(self, run_id: str) -> Session: ...
