"""File-system faults, for real: a small tmpfs, FUSE views whose locks lie, and no mount left
behind, however the orchestrator ends."""

from __future__ import annotations

import errno
import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.nemesis import mounts

pytestmark = pytest.mark.integration  # mounts need root and bindfs; `make` installs it


@pytest.fixture(autouse=True)
def _mounts(can_mount: None) -> None:
    """Every test here makes mounts."""


def test_a_small_file_system_fills_up_and_grows_back(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with mounts.FaultMounts(tmp_path / "registry") as made:
        made.tmpfs(cache, 0.5)
        assert mounts.mounted(cache)
        with pytest.raises(OSError) as info:
            (cache / "big").write_bytes(b"x" * 1024 * 1024)
        assert info.value.errno == errno.ENOSPC
        made.resize(cache, 4)
        (cache / "big").write_bytes(b"x" * 1024 * 1024)
    assert not mounts.mounted(cache)
    assert list((tmp_path / "registry").iterdir()) == []  # nothing left to reap


def test_locks_through_two_views_do_not_exclude(tmp_path: Path) -> None:
    source = tmp_path / "cache"
    source.mkdir()
    (source / "lock").touch()
    with mounts.FaultMounts(tmp_path / "registry") as made:
        one, two = tmp_path / "one", tmp_path / "two"
        made.bindfs(source, one)
        made.bindfs(source, two)
        with (one / "lock").open() as a, (two / "lock").open() as b, (source / "lock").open() as c:
            fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lie: both hold it
            fcntl.flock(c, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (one / "seen").write_text("through one")
        assert (two / "seen").read_text() == "through one"  # one directory behind both
    assert not mounts.mounted(one) and not mounts.mounted(two)


def test_an_interrupted_owner_unmounts_on_its_way_out(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt), mounts.FaultMounts(tmp_path / "registry") as made:
        made.tmpfs(cache, 1)
        raise KeyboardInterrupt
    assert not mounts.mounted(cache)


_KILLED_OWNER = """
import os, sys
from pathlib import Path
from lab.nemesis import mounts
made = mounts.FaultMounts(Path(sys.argv[1]))
made.tmpfs(Path(sys.argv[2]), 1)
os.kill(os.getpid(), 9)
"""


def test_the_next_start_reaps_what_a_killed_owner_left(tmp_path: Path) -> None:
    registry, cache = tmp_path / "registry", tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-c", _KILLED_OWNER, str(registry), str(cache)])
    assert proc.returncode == -9
    assert mounts.mounted(cache)
    (record,) = registry.iterdir()
    assert json.loads(record.read_text())["mounts"] == [str(cache.resolve())]
    assert mounts.reap(registry) == [str(cache.resolve())]
    assert not mounts.mounted(cache) and list(registry.iterdir()) == []
