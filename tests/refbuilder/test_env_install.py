"""A build env's wheels: shared out among forks by what installing them costs, and every one
in, and compiled, before the env is published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from lab.contract import ENV_MANIFEST, ENVS_BUCKET
from lab.refbuilder import _env_install
from lab.refbuilder._cache import Cache
from lab.refbuilder._env import BuildEnvs
from lab.refbuilder._errors import CacheError
from lab.refbuilder._resolve import Wheel
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents, run_in, write_wheel

pytestmark = pytest.mark.integration  # real venvs


def test_wheels_are_shared_out_by_the_files_they_write_as_well_as_their_python(
    tmp_path: Path,
) -> None:
    """A wheel of many small modules costs more than its bytes say: each file it writes (and
    its byte code) is one more for the file system to make."""
    many = {f"many/m{i}.py": b"x = 1\n" for i in range(200)}  # 1.2 KB of Python, 400 files
    one_big = {"big.py": b"x = 1\n" * 100_000}  # 600 KB of Python in one file
    half = {"half.py": b"x = 1\n" * 50_000}
    written = {
        name: write_wheel(tmp_path, name, files=files)
        for name, files in (("many", many), ("big", one_big), ("half", half))
    }
    wheels = [
        Wheel(path, canonicalize_name(name), Version("1.0"), (), 0)
        for name, path in written.items()
    ]
    shares = _env_install._shares(wheels, workers=2, compiled=True)
    assert [[w.name for w in share] for share in shares] == [["many"], ["big", "half"]]
    assert _env_install._shares(wheels[:1], workers=2, compiled=True) == [wheels[:1]]
    assert _env_install._shares([], workers=2, compiled=True) == [[]]
    # without byte code (another interpreter's env) only the files count: the 200 small
    # modules outweigh the two big ones, and are worth a fork of their own
    uncompiled = _env_install._shares(wheels, workers=2, compiled=False)
    assert [[w.name for w in share] for share in uncompiled] == [["many"], ["big", "half"]]
    small = [  # together less than a fork is worth
        Wheel(write_wheel(tmp_path, name), canonicalize_name(name), Version("1.0"), (), 0)
        for name in ("a", "b", "c")
    ]
    assert _env_install._shares(small, workers=2, compiled=True) == [small]


def test_wheels_installed_in_parallel_are_all_in_and_compiled(
    tmp_path: Path,
    events: RecordedEvents,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Byte code is part of an env: every module has it before the env is published, however
    many forks installed the wheels; a module that does not compile is left without, as
    installer leaves it, and says so on stderr, never on stdout (the builder's result)."""
    monkeypatch.setattr(_env_install, "_IN_PARALLEL_FROM", 0)
    monkeypatch.setattr(_env_install, "_WORKERS", 3)
    names = ("big", "bigger", "biggest")
    for n, name in enumerate(names, 1):
        files = {f"{name}/m{i}.py": f"VALUE = {i}\n".encode() for i in range(20 * n)}
        files[f"{name}/__init__.py"] = b""
        files[f"{name}/py2.py"] = b"print 'old'\n"
        write_wheel(tmp_path / "wh", name, files=files)
    write_wheel(tmp_path / "wh", "all", requires=names)
    envs = BuildEnvs(Cache(tmp_path / "cache", events), BASE_PYTHON, tmp_path / "wh", True)
    env = envs.ensure(["all"])
    envs.release()
    out, err = capfd.readouterr()
    assert out == "" and all(f"{name}/py2.py" in err for name in names)
    for n, name in enumerate(names, 1):
        compiled = {p.name.split(".")[0] for p in env.path.rglob(f"{name}/__pycache__/*.pyc")}
        assert compiled == {f"m{i}" for i in range(20 * n)} | {"__init__"}
        assert run_in(env, f"import {name}.m3 as m; print(m.VALUE)") == "3"
    manifest = json.loads((env.path / ENV_MANIFEST).read_text())
    compiled_all = sum(20 * n + 1 for n in (1, 2, 3)) + 1  # and all.py
    assert sum(".pyc" in name for name in manifest["files"]) == compiled_all


def test_a_wheel_that_fails_in_a_fork_fails_the_env_and_names_it(
    tmp_path: Path, events: RecordedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_env_install, "_IN_PARALLEL_FROM", 0)
    write_wheel(tmp_path / "wh", "good", files={"good.py": b"", "good2.py": b"x = 1\n" * 500})
    write_wheel(tmp_path / "wh", "bad", files={"../escape.py": b""})  # outside its scheme
    write_wheel(tmp_path / "wh", "both", requires=("good", "bad"))
    envs = BuildEnvs(Cache(tmp_path / "cache", events), BASE_PYTHON, tmp_path / "wh", True)
    with pytest.raises(CacheError, match=r"failed: installing .*bad-1\.0-py3-none-any\.whl"):
        envs.ensure(["both"])
    envs.release()
    assert not (tmp_path / "escape.py").exists()
    assert [p for p in (tmp_path / "cache" / ENVS_BUCKET).iterdir() if p.is_dir()] == []
