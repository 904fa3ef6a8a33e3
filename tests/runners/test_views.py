"""Where each backend puts a runner's things: resources by name, binaries on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ToolchainError
from lab.rundir import RunDir
from lab.runners.base import ViewRequest
from lab.runners.containers import RESOURCES_DIR
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend
from lab.runners.view import SYSTEM_PATH, Mount

RESOURCES = {"wheelhouse": Path("/host/.lab/wheelhouse"), "uv-0.13.9": Path("/host/.lab/uv/x")}


def _asked(run_dir: Path, resources: dict[str, Path], binaries: set[str]) -> ViewRequest:
    return ViewRequest(RunDir(run_dir), "runner-1", "/src", resources, frozenset(binaries))


def test_local_runners_see_resources_at_their_host_paths_read_only(tmp_path: Path) -> None:
    view = LocalBackend().view(_asked(tmp_path, RESOURCES, {"cc"}))
    # below the runs directory, the same for every run there, never /src itself
    assert view.src == str(RunDir(tmp_path).mount_points / "src")
    assert view.resources == {name: str(path) for name, path in RESOURCES.items()}
    assert set(view.mounts) == {Mount(p, str(p), read_only=True) for p in RESOURCES.values()}
    assert view.bin_path.endswith(SYSTEM_PATH)
    with pytest.raises(ToolchainError, match="`no-such-cc` is not on PATH"):
        LocalBackend().view(_asked(tmp_path, {}, {"no-such-cc"}))


def test_containers_see_resources_by_name_and_binaries_from_the_image(tmp_path: Path) -> None:
    view = DockerBackend().view(_asked(tmp_path, RESOURCES, {"cc"}))
    assert view.src == "/src"
    assert view.resources == {name: f"{RESOURCES_DIR}/{name}" for name in RESOURCES}
    assert set(view.mounts) == {
        Mount(path, f"{RESOURCES_DIR}/{name}", read_only=True) for name, path in RESOURCES.items()
    }
    assert view.bin_path == SYSTEM_PATH
