"""Where each backend puts a runner's things: resources by name, binaries on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ToolchainError
from lab.runners.base import SYSTEM_PATH, Mount
from lab.runners.docker import RESOURCES_DIR, DockerBackend
from lab.runners.local import LocalBackend

RESOURCES = {"wheelhouse": Path("/host/.lab/wheelhouse"), "uv-0.13.9": Path("/host/.lab/uv/x")}


def test_local_runners_see_resources_at_their_host_paths_read_only(tmp_path: Path) -> None:
    view = LocalBackend().view(tmp_path, "runner-1", "/src", RESOURCES, frozenset({"cc"}))
    # below the runs directory, the same for every run there, never /src itself
    assert view.src == str(tmp_path.parent / ".mnt" / "src")
    assert view.resources == {name: str(path) for name, path in RESOURCES.items()}
    assert set(view.mounts) == {Mount(p, str(p), read_only=True) for p in RESOURCES.values()}
    assert view.bin_path.endswith(SYSTEM_PATH)
    with pytest.raises(ToolchainError, match="`no-such-cc` is not on PATH"):
        LocalBackend().view(tmp_path, "runner-1", "/src", {}, frozenset({"no-such-cc"}))


def test_containers_see_resources_by_name_and_binaries_from_the_image(tmp_path: Path) -> None:
    view = DockerBackend().view(tmp_path, "runner-1", "/src", RESOURCES, frozenset({"cc"}))
    assert view.src == "/src"
    assert view.resources == {name: f"{RESOURCES_DIR}/{name}" for name in RESOURCES}
    assert set(view.mounts) == {
        Mount(path, f"{RESOURCES_DIR}/{name}", read_only=True) for name, path in RESOURCES.items()
    }
    assert view.bin_path == SYSTEM_PATH
