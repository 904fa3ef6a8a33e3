"""The swarm backend's cache volume, as far as it is the lab's: the options that name it and
the mount a task gets (the volume on a test swarm is in test_swarm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import scenario
from lab.errors import UsageError
from lab.run import Lab
from lab.rundir import RunDir
from lab.runners.base import ViewRequest
from lab.runners.containers import CACHE_DIR
from lab.runners.swarm import CacheVolume, SwarmBackend
from lab.toolchain import Toolchain

_NFS = ["type=nfs", "o=addr=10.0.0.5,rw,nfsvers=4", "device=:/export/cache"]


def test_a_volume_is_its_name_and_the_local_drivers_options() -> None:
    volume = CacheVolume.parse("ci-cache", _NFS)
    assert volume.options == {
        "type": "nfs",
        "o": "addr=10.0.0.5,rw,nfsvers=4",  # only the first = splits
        "device": ":/export/cache",
    }
    mount = volume.mount(read_only=False)
    assert (mount["Type"], mount["Source"], mount["Target"]) == ("volume", "ci-cache", CACHE_DIR)
    assert mount["VolumeOptions"]["DriverConfig"] == {"Name": "local", "Options": volume.options}
    assert CacheVolume.parse("ci-cache", []).mount(True)["ReadOnly"] is True


@pytest.mark.parametrize(
    ("name", "options", "said"),
    [
        ("x", [], "a volume name is letters, digits"),
        ("../up", [], "a volume name is letters, digits"),
        ("ci-cache", ["type"], "'type': expected KEY=VALUE"),
        ("ci-cache", ["=nfs"], "'=nfs': expected KEY=VALUE"),
    ],
)
def test_what_cannot_name_a_volume_is_a_usage_error(
    name: str, options: list[str], said: str
) -> None:
    with pytest.raises(UsageError, match=said):
        CacheVolume.parse(name, options)


def test_a_run_without_a_shared_cache_directory_cannot_use_a_volume(
    tmp_path: Path, lab_toolchain: Toolchain
) -> None:
    """The checker reads the run's cache: with a volume, that must be the same storage.
    Nothing is written before that is said."""
    backend = SwarmBackend(cache_volume=CacheVolume.parse("ci-cache", _NFS))
    assert backend.external_cache == "the volume ci-cache"
    with pytest.raises(UsageError, match="must read the same storage"):
        Lab(lab_toolchain, backend, tmp_path / "runs").run(scenario.load_named("issue-15380"))
    assert not (tmp_path / "runs").exists()
    asked = ViewRequest(RunDir(tmp_path / "r"), "runner-1", "/src", {}, frozenset())
    assert backend.view(asked).cache == CACHE_DIR
