"""What every runner backend provides.

A backend starts one process per runner. Each runner sees its checkout at a path the scenario
chooses, the shared cache, the wheelhouse read-only, a tmpfs ``.venv`` and no network. Output
lines are handed to a callback as they arrive, so the orchestrator can stamp them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

LineCallback = Callable[[str, str], None]  # (stream name, line without newline)


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


@dataclass(frozen=True)
class RunnerPaths:
    """Where the lab's shared things appear inside a runner of a given backend."""

    src: str
    cache: str
    wheelhouse: str
    uv_root: str  # holds <version>/bin/uv
    python: str
    tmp: str
    home: str
    uv_from_host: bool  # True: mount the lab's uv binaries; False: the image has them
    builder_python: str  # an interpreter that can import lab.builder and its dependencies
    vendor: str  # vendored crates, for cargo
    rust_bin: str | None  # a directory with cargo and rustc to put on PATH; None: PATH has them


class RunningRunner(Protocol):
    name: str
    pid: int | None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` seconds."""

    def kill(self) -> None:
        """Stop the runner and everything it started, now."""


class Session(Protocol):
    """All runners of one run; leaving the session stops and removes every one of them."""

    def start(self, spec: RunnerSpec, on_line: LineCallback) -> RunningRunner: ...

    def __enter__(self) -> Session: ...

    def __exit__(self, *exc: object) -> None: ...


class Backend(Protocol):
    name: str

    def check(self) -> None:
        """Raise BackendUnavailable with the reason if this backend cannot run here."""

    def paths(self, run_dir: Path, runner: str, checkout_path: str) -> RunnerPaths:
        """The in-runner paths of ``runner``, whose checkout the scenario puts at the
        absolute ``checkout_path`` (one path for all runners, or one each)."""

    def session(self, run_id: str) -> Session: ...
