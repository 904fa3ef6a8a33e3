"""Safer than uv: the seven ways an outside attack found the reference builder less safe than
uv, each as a test that failed before its fix."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from lab.contract import (
    EDITABLE_BUCKET,
    ENVS_BUCKET,
    FAILPOINTS_ENV,
    LINE_PREFIX,
    SCRATCH_DIR,
    SCRATCH_GRACE_S,
    TREE_KEY_PREFIX,
    Op,
    Phase,
    parse_event_line,
)
from lab.nemesis import mounts
from lab.refbuilder import Policy, Request, editable_argv
from lab.refbuilder._cache import Cache, write_file
from lab.refbuilder._errors import CacheError
from lab.refbuilder._events import Events
from lab.refbuilder._frontend import editable_install
from lab.refbuilder._tree import path_key
from tests.conftest import FIXTURES
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents

pytestmark = pytest.mark.integration  # real builds, real envs

PACKAGES = FIXTURES.parent / "packages"


def _request(src: Path, tmp_path: Path, wheelhouse: Path, venv: str, module: str) -> Request:
    return Request(
        src, tmp_path / "cache", tmp_path / venv, wheelhouse, BASE_PYTHON, Policy.NARROW, module
    )


def _installed(venv: Path, name: str) -> importlib.metadata.Distribution:
    site = next(venv.glob("lib/python*/site-packages"))
    (dist,) = [
        d for d in importlib.metadata.distributions(path=[str(site)]) if d.metadata["Name"] == name
    ]
    return dist


def _cli(
    request: Request, *more: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.refbuilder", *editable_argv(request, "r"), *more],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


# 1. Never stale ---------------------------------------------------------------------------


def test_a_version_read_from_a_source_file_is_never_stale(tmp_path: Path, wheelhouse: Path) -> None:
    from lab.projects import template

    src = tmp_path / "src"
    for i, version in enumerate(("1.0", "2.0")):
        shutil.rmtree(src, ignore_errors=True)  # a fresh checkout at the same path
        template.get("hatchling").render(
            src, {"build_delay": 0, "version": version, "version_from_file": True}
        )
        editable_install(_request(src, tmp_path, wheelhouse, f"v{i}", "uv_demo"), RecordedEvents())
        assert _installed(tmp_path / f"v{i}", "uv-demo").version == version


def test_dependencies_read_from_a_file_edited_in_place_are_never_stale(
    tmp_path: Path, wheelhouse: Path
) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "dynamic-deps", src)
    editable_install(_request(src, tmp_path, wheelhouse, "v1", "dyn_demo"), RecordedEvents())
    assert _installed(tmp_path / "v1", "dyn-demo").requires == ["packaging>=20"]
    (src / "requirements.txt").write_text("packaging>=24\n")
    editable_install(_request(src, tmp_path, wheelhouse, "v2", "dyn_demo"), RecordedEvents())
    assert _installed(tmp_path / "v2", "dyn-demo").requires == ["packaging>=24"]


# 2. Publish only what was validated -------------------------------------------------------


@pytest.mark.parametrize("kind", ["not-a-zip", "pth-nowhere"])
def test_a_broken_build_poisons_nothing(tmp_path: Path, wheelhouse: Path, kind: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "wheel-kinds", src)
    (src / "WHEEL_KIND").write_text(kind)
    broken = _cli(_request(src, tmp_path, wheelhouse, "v1", "kinds_demo"))
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    (src / "WHEEL_KIND").unlink()  # the backend is fixed: the next runner must not suffer
    fixed = _cli(_request(src, tmp_path, wheelhouse, "v2", "kinds_demo"))
    assert fixed.returncode == 0, fixed.stderr


def test_a_wheel_whose_record_lies_is_refused(tmp_path: Path, wheelhouse: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "wheel-kinds", src)
    (src / "WHEEL_KIND").write_text("bad-record")
    proc = _cli(_request(src, tmp_path, wheelhouse, "v1", "kinds_demo"))
    assert proc.returncode == 1 and "RECORD" in proc.stderr, proc.stderr
    entries = tmp_path / "cache" / EDITABLE_BUCKET / path_key(src)
    assert not [p for p in entries.glob("*") if p.is_dir()]  # nothing published


# 3. Every wait bounded --------------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy.NARROW, Policy.WIDE])
def test_a_stopped_holder_is_waited_for_no_longer_than_the_lock_timeout(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path, policy: Policy
) -> None:
    src = render("src", "inplace")
    request = dataclasses.replace(
        _request(src, tmp_path, wheelhouse, "v1", "inplace_demo"), policy=policy
    )
    entry_lock = tmp_path / "cache" / EDITABLE_BUCKET / path_key(src) / ".lock"
    entry_lock.parent.mkdir(parents=True)
    with FileLock(entry_lock):  # a holder that never lets go
        started = time.monotonic()
        proc = _cli(request, "--lock-timeout", "2")
    assert time.monotonic() - started < 30
    said = [line for line in proc.stderr.splitlines() if not line.startswith(LINE_PREFIX)]
    assert str(entry_lock) in said[-1] and "2 s" in said[-1] and "entry" in said[-1], said
    if policy is Policy.WIDE:  # it waits before it looks up: nothing to install
        assert proc.returncode == 1, proc.stderr
    else:  # built and installed before its publish waited: it costs the cache, not the install
        assert proc.returncode == 0, proc.stderr
        assert said[-1].startswith("warning:") and "not published" in said[-1]
        assert json.loads(proc.stdout)["publish"] == "unpublished"
        assert _installed(request.venv, "inplace_demo").version
        assert not [p for p in entry_lock.parent.iterdir() if p.is_dir()]


# 4. Liveness beyond flock -----------------------------------------------------------------


@pytest.mark.usefixtures("can_mount")
def test_a_sweeper_whose_locks_lie_spares_live_work(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with mounts.FaultMounts(tmp_path / "registry") as made:
        one, two = tmp_path / "one", tmp_path / "two"
        made.bindfs(cache, one)
        made.bindfs(cache, two)
        with Cache(one, RecordedEvents()).scratch() as live:
            (live / "half.whl").write_text("in progress")
            assert Cache(two, RecordedEvents()).sweep() == []  # its flock says free: it lies
            assert (live / "half.whl").exists()


# 5. Children die with their builder -------------------------------------------------------


def _processes_in(path: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and str(path) in cmdline:
            found.append(cmdline)
    return found


def test_a_builder_killed_while_it_makes_a_build_env_leaves_nothing_behind(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path
) -> None:
    src = render("src", "hatchling")
    request = _request(src, tmp_path, wheelhouse, "v1", "uv_demo")
    killed = _cli(request, env={FAILPOINTS_ENV: "env-create=kill", "PATH": "/usr/bin:/bin"})
    assert killed.returncode == -9
    # its children die with it: nothing goes on writing into a scratch dir that sweepers take
    time.sleep(0.5)
    assert _processes_in(tmp_path / "cache") == []
    # once its heartbeat is older than the grace, a sweep takes all it left
    old = time.time() - SCRATCH_GRACE_S - 1
    for path in (tmp_path / "cache" / SCRATCH_DIR).iterdir():
        os.utime(path, (old, old))
    Cache(tmp_path / "cache", Events("sweeper", stream=io.StringIO())).sweep()
    assert [p.name for p in (tmp_path / "cache" / SCRATCH_DIR).iterdir()] == []


# 6. Verified build envs -------------------------------------------------------------------


def test_a_damaged_build_env_is_rebuilt(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path
) -> None:
    src = render("src", "hatchling")
    editable_install(_request(src, tmp_path, wheelhouse, "v1", "uv_demo"), RecordedEvents())
    envs = tmp_path / "cache" / ENVS_BUCKET
    (damaged,) = envs.glob("*/lib/python*/site-packages/hatchling/build.py")  # the backend's env
    damaged.unlink()  # a disk error, a careless `rm`
    shutil.rmtree(src)
    render("src", "hatchling")
    (src / "pyproject.toml").write_text((src / "pyproject.toml").read_text() + "\n# changed\n")
    events = RecordedEvents()
    editable_install(_request(src, tmp_path, wheelhouse, "v2", "uv_demo"), events)
    env = f"{ENVS_BUCKET}/{damaged.relative_to(envs).parts[0]}"
    said = [(e.phase, e.key) for e in events.records if e.op is Op.ENV]
    # a miss, though it is there, then made anew and put in the damaged one's place
    assert said[:2] == [(Phase.MISS, env), (Phase.REPLACED, env)], said
    assert damaged.is_file()


# 7. One line, no traceback, for any input -------------------------------------------------

_BAD_PYPROJECTS = {
    "not UTF-8": b"[project]\nname = 'caf\xe9'\n",
    "build-system a string": b'build-system = "hatchling"\n',
    "requires a number": b"[build-system]\nrequires = 5\nbuild-backend = 'x'\n",
    "requires a string": b"[build-system]\nrequires = 'hatchling'\nbuild-backend = 'h.build'\n",
    "backend-path outside": b"[build-system]\nrequires = []\nbuild-backend = 'x'\n"
    b"backend-path = ['..']\n",
}


@pytest.mark.parametrize("case", sorted(_BAD_PYPROJECTS))
def test_bad_input_gets_one_line_and_a_usage_error(
    tmp_path: Path, wheelhouse: Path, case: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_bytes(_BAD_PYPROJECTS[case])
    proc = _cli(_request(src, tmp_path, wheelhouse, "v1", "x"))
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith(LINE_PREFIX)]
    assert len(lines) == 1 and "pyproject.toml" in lines[0], lines


def test_a_hook_that_returns_no_file_name_is_named(tmp_path: Path, wheelhouse: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "wheel-kinds", src)
    (src / "WHEEL_KIND").write_text("not-a-string")
    proc = _cli(_request(src, tmp_path, wheelhouse, "v1", "kinds_demo"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "build_editable" in proc.stderr and "returned 5" in proc.stderr


def test_sweep_of_something_that_is_no_cache_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "lab.refbuilder", "sweep", "--cache", str(file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and str(file) in proc.stderr


@pytest.mark.usefixtures("can_mount")
def test_a_read_only_cache_with_a_valid_entry_still_installs(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path
) -> None:
    src = render("src", "hatchling")
    editable_install(_request(src, tmp_path, wheelhouse, "v1", "uv_demo"), RecordedEvents())
    cache = tmp_path / "cache"
    # an abandoned scratch marker: the start-up sweep would want to write
    (cache / SCRATCH_DIR / "0123.alive").write_text("")
    subprocess.run(["mount", "--bind", str(cache), str(cache)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(cache)], check=True)
        proc = _cli(_request(src, tmp_path, wheelhouse, "v2", "uv_demo"))
    finally:
        subprocess.run(["umount", str(cache)], check=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hit"] is True


@pytest.mark.usefixtures("can_mount")
def test_a_full_disk_names_what_it_was_writing(tmp_path: Path, wheelhouse: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "wheel-kinds", src)
    with mounts.FaultMounts(tmp_path / "registry") as made:
        made.tmpfs(tmp_path / "cache", 0.02)  # 20 KiB: no room for the envs
        proc = _cli(_request(src, tmp_path, wheelhouse, "v1", "kinds_demo"))
    # a cache that cannot be written costs speed, not the install
    assert proc.returncode == 0, proc.stderr
    assert "No space left" in proc.stderr and str(tmp_path / "cache") in proc.stderr
    # the private cache it built in names its locks its own way: they exclude nobody else
    said = [parse_event_line(line) for line in proc.stderr.splitlines()]
    warned = next(i for i, e in enumerate(said) if e is not None and e.phase is Phase.WARNED)
    keys = {e.key or "" for e in said[warned:] if e is not None and e.op is Op.LOCK}
    cache_keys = {k for k in keys if not k.startswith(TREE_KEY_PREFIX)}  # the tree is shared
    assert cache_keys and all(k.startswith("cachelab-uncached-") for k in cache_keys)


@pytest.mark.usefixtures("can_mount")
def test_a_write_that_fills_the_disk_names_its_file_and_leaves_nothing(tmp_path: Path) -> None:
    # A write's ENOSPC carries no file name: the cache's writes add it.
    target = tmp_path / "cache" / "env.json"
    with mounts.FaultMounts(tmp_path / "registry") as made:
        made.tmpfs(tmp_path / "cache", 0.02)
        with pytest.raises(CacheError, match=f"cannot write {target}: No space left"):
            write_file(target, b"x" * 200_000)
        assert list(target.parent.iterdir()) == []


def test_a_build_requirement_the_wheelhouse_lacks_is_named_in_one_line(
    tmp_path: Path, wheelhouse: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(
        "[build-system]\nrequires = ['no-such-backend-xyz']\nbuild-backend = 'xyz'\n"
    )
    proc = _cli(_request(src, tmp_path, wheelhouse, "v1", "x"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: creating the build env") and last.endswith(
        f"no wheel in the wheelhouse {wheelhouse} satisfies no-such-backend-xyz (requested): "
        "it has no no-such-backend-xyz"
    )
