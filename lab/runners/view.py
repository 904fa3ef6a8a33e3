"""What a runner sees, in the words of those who use it: what a subject or a template needs
by name (``Needs``), and where one runner sees each thing (``RunnerView``), which a backend
decides and a subject's command line and environment are made of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Mount:
    source: Path  # on the host
    target: str  # inside the runner
    read_only: bool = False


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

    runner: str  # its name
    src: str  # the checkout
    cache: str  # the shared cache
    tmp: str  # a private TMPDIR
    home: str  # a private HOME
    python: str  # the runner's interpreter; venvs are made from it
    resources: Mapping[str, str]  # name -> path, for each resource the needs named
    bin_path: str  # PATH: the needed binaries' directories, then the system's
    mounts: tuple[Mount, ...] = ()  # the resources, read-only, where ``resources`` says
