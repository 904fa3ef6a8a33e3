"""The swarm backend's cache volume, as far as it is the lab's: the options that name it and
the mount a task gets (the volume on a test swarm is in test_swarm.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import UsageError
from lab.runners.docker import CACHE_DIR
from lab.runners.swarm import CacheVolume, SwarmBackend

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


def test_a_run_without_a_shared_cache_directory_cannot_use_a_volume(tmp_path: Path) -> None:
    """The checker reads the run's cache: with a volume, that must be the same storage."""
    backend = SwarmBackend(cache_volume=CacheVolume.parse("ci-cache", _NFS))
    with pytest.raises(UsageError, match="must read the same storage"):
        backend.view(tmp_path, "runner-1", "/src", {}, frozenset())
    (tmp_path / "cache").symlink_to(tmp_path / "kept")
    assert backend.view(tmp_path, "runner-1", "/src", {}, frozenset()).cache == CACHE_DIR
