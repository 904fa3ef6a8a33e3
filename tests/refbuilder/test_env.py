"""Build environments: made once, verified on every use, and never removed under a user."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.contract import ENVS_BUCKET
from lab.refbuilder import _locks
from lab.refbuilder._cache import Cache
from lab.refbuilder._env import BuildEnvs, remove_unused
from lab.refbuilder._errors import LockTimeout
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents

pytestmark = pytest.mark.integration  # real venvs, real pip


def test_a_cleaner_removes_only_the_envs_nobody_uses(
    tmp_path: Path, wheelhouse: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path / "cache", events, lock_timeout=10)
    envs = BuildEnvs(cache, BASE_PYTHON, wheelhouse, atomic=True)
    env = envs.ensure(["editables"])
    assert env.python.is_file()
    # another process cleans while we hold the env: it stays
    clean = [sys.executable, "-m", "lab.refbuilder", "clean", "--cache", str(cache.root)]
    said = json.loads(subprocess.run(clean, capture_output=True, text=True, check=True).stdout)
    assert said["in_use"] == [env.path.name] and env.python.is_file()
    envs.release()
    said = json.loads(subprocess.run(clean, capture_output=True, text=True, check=True).stdout)
    assert said["removed"] == [env.path.name] and not env.path.exists()
    assert [p.name for p in (cache.root / ENVS_BUCKET).iterdir() if p.is_dir()] == []


def test_nothing_in_use_means_nothing_kept(tmp_path: Path, events: RecordedEvents) -> None:
    cache = Cache(tmp_path, events)
    (tmp_path / ENVS_BUCKET / "abc").mkdir(parents=True)
    assert remove_unused(cache) == (["abc"], [])


def test_a_use_lock_waits_no_longer_than_the_timeout(tmp_path: Path) -> None:
    """A cleaner holds an env's use lock only for a rename; one that hangs is given up on."""
    lock = tmp_path / "env.use"
    held = _locks.try_exclusive(lock)
    assert held is not None
    with pytest.raises(LockTimeout, match="waiting to use"):
        _locks.hold_shared(lock, timeout=0.2)
    _locks.release(held)
    fd = _locks.hold_shared(lock, timeout=0.2)
    assert _locks.try_exclusive(lock) is None  # in use: a cleaner leaves it alone
    _locks.release(fd)
