from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from lab.errors import BackendUnavailable, LabError
from lab.runners.base import Backend
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend
from lab.runners.swarm import SwarmBackend, engines, testswarm
from lab.toolchain import Toolchain, fetch

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def run_issue(*options: str, cwd: Path) -> subprocess.Popen[str]:
    """`cachelab run` of the issue's scenario, in the background, with these options. Ctrl-C
    reaches it even where the tests themselves run as a background job (which starts with
    SIGINT ignored, and Python then installs no handler for it)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab",
            "--lab-dir",
            str(REPO / ".lab"),
            "run",
            str(REPO / "scenarios" / "issue-15380.toml"),
            *options,
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _unavailable(why: str) -> NoReturn:
    """What a test needs is not here: under CI=true a failure (a skipped test would hide a
    broken product), else a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def lab_toolchain() -> Toolchain:
    """The repository's own offline toolchain (``make test`` builds it first)."""
    return fetch.ensure(REPO / ".lab")


@pytest.fixture(scope="session")
def local_backend() -> LocalBackend:
    backend = LocalBackend()
    backend.check()  # fails (never skips) where namespaces are unavailable
    return backend


@pytest.fixture(scope="session")
def docker_backend() -> DockerBackend:
    """The Docker backend with its runner image. Under CI=true a missing engine or image is a
    failure: a skipped container test would hide a broken product."""
    backend = DockerBackend()
    try:
        backend.check()
    except BackendUnavailable as exc:
        _unavailable(f"the Docker tests need a running engine and `make images`: {exc}")
    return backend


@pytest.fixture(scope="session")
def swarm_backend(docker_backend: DockerBackend) -> Iterator[SwarmBackend]:
    """A local two-node test swarm (``cachelab swarm up``), formed for the tests and taken
    down after them, unless one was up already. Under CI=true a swarm that cannot be formed
    is a failure."""
    was_up = testswarm.current() is not None
    try:
        testswarm.up(2, [str(docker_backend.image)], docker_backend.client())
        backend = SwarmBackend()
        backend.check()
    except LabError as exc:
        if not was_up:
            engines.down()
        _unavailable(f"the swarm tests need root and dockerd to form a test swarm: {exc}")
    yield backend
    if not was_up:  # taken down without a trace, and down again does nothing
        removed = engines.down()
        assert any("dockerd" in r for r in removed), removed
        assert engines.leftovers() == []
        assert engines.down() == []


@pytest.fixture(params=["local", "docker"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each runner backend in turn."""
    chosen: Backend = request.getfixturevalue(f"{request.param}_backend")
    return chosen


@pytest.fixture
def mercurial() -> None:
    """Real hg (`make` installs Debian's mercurial). Under CI=true its absence is a failure."""
    if shutil.which("hg") is None:
        _unavailable("the Mercurial tests need hg (`make test` installs Debian's mercurial)")


@pytest.fixture
def can_mount() -> None:
    """Fault mounts need root and bindfs (`make` installs it). Under CI=true their absence is a
    failure, as the Docker engine's is."""
    from lab.nemesis import mounts

    why = mounts.available()
    if why is not None:
        _unavailable(f"the fault mounts cannot be made here: {why}")
