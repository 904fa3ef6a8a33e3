"""Build environments: made once, verified on every use, and never removed under a user."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lab.contract import ENV_MANIFEST, ENVS_BUCKET, Op, Phase
from lab.refbuilder import _env, _env_install, _locks
from lab.refbuilder._cache import Cache
from lab.refbuilder._env import BuildEnv, BuildEnvs, env_key
from lab.refbuilder._errors import CacheError, LockTimeout
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents, run_in, write_wheel

pytestmark = pytest.mark.integration  # real venvs

_SCRIPTS = b"[console_scripts]\nbackend-cli = backend:main\n"


def _backend_wheelhouse(path: Path) -> Path:
    """A backend with a console script and a dependency, and what its editable hook adds."""
    files = {
        "backend.py": b"def main() -> None:\n    import sys; print(sys.prefix)\n",
        "backend-1.0.dist-info/entry_points.txt": _SCRIPTS,
    }
    write_wheel(path, "backend", requires=("helper",), files=files)
    write_wheel(path, "helper")
    write_wheel(path, "editables")
    write_wheel(path, "overlay", files={"backend.py": b"overlaid = True\n"})
    return path


def test_an_env_holds_the_resolved_wheels_and_its_scripts_run_it_where_it_is_published(
    tmp_path: Path, events: RecordedEvents
) -> None:
    envs = BuildEnvs(
        Cache(tmp_path / "cache", events), BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True
    )
    env = envs.ensure(["backend"])
    assert env.wheels == ("backend-1.0-py3-none-any.whl", "helper-1.0-py3-none-any.whl")
    assert run_in(env, "import backend, helper; print(helper.VERSION)") == "1.0"
    script = env.path / "bin" / "backend-cli"
    assert script.read_text().startswith(f"#!{env.python}\n")  # not the scratch dir's
    ran = subprocess.run([str(script)], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == str(env.path)
    manifest = json.loads((env.path / ENV_MANIFEST).read_text())
    assert manifest["wheels"] == list(env.wheels) and "bin/backend-cli" in manifest["files"]
    assert list(env.path.glob("lib/python*/site-packages/__pycache__/backend.*.pyc"))
    envs.release()


def test_an_env_that_adds_to_another_is_a_layer_on_it_that_leaves_it_alone(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path / "cache", events)
    envs = BuildEnvs(cache, BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    base = envs.ensure(["backend"])
    before = json.loads((base.path / ENV_MANIFEST).read_text())["files"]
    env = envs.ensure([*base.requirements, "editables"], base=base)
    assert env.base == base and env.wheels == (
        "backend-1.0-py3-none-any.whl",
        "editables-1.0-py3-none-any.whl",
        "helper-1.0-py3-none-any.whl",
    )
    # nothing of the base's is in the layer: its modules come from the base's site-packages
    assert not list(env.path.rglob("backend.py")) and list(env.path.rglob("editables.py"))
    (module,) = base.path.glob("lib/python*/site-packages/backend.py")
    assert run_in(env, "import backend, editables; print(backend.__file__)") == str(module)
    # the base's scripts come after the layer's own on a hook's PATH, and run the base
    assert env.scripts == (env.path / "bin", base.path / "bin")
    assert (base.path / "bin" / "backend-cli").read_text().startswith(f"#!{base.python}\n")
    lacking = subprocess.run([str(base.python), "-c", "import editables"], capture_output=True)
    assert lacking.returncode == 1
    assert json.loads((base.path / ENV_MANIFEST).read_text())["files"] == before
    envs.release()
    # both are whole by their manifests, and each a hit for the next builder: the layer on
    # the base it was made on, and on no other
    later = BuildEnvs(cache, BASE_PYTHON, tmp_path / "wh", True)
    assert later.ensure(["backend"]) == base
    assert later.ensure(["backend", "editables"], base=base) == env
    assert _env._read(env.path) is None
    later.release()


def test_a_layer_finds_its_base_wherever_the_cache_is_seen(
    tmp_path: Path, events: RecordedEvents
) -> None:
    """A runner sees a shared cache at a path of its own (a container's mount, a run's link
    to the cache that goes when the run is removed): a layer made through one path works
    through another. (Found by the fuzzer: layers named their base by an absolute path.)"""
    shared = tmp_path / "shared"
    shared.mkdir()
    link = tmp_path / "run" / "cache"
    link.parent.mkdir()
    link.symlink_to(shared)
    envs = BuildEnvs(Cache(link, events), BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    base = envs.ensure(["backend"])
    envs.ensure([*base.requirements, "editables"], base=base)
    envs.release()
    link.unlink()  # the run that made them is gone
    later = BuildEnvs(Cache(shared, events), BASE_PYTHON, tmp_path / "wh", True)
    base = later.ensure(["backend"])
    env = later.ensure(["backend", "editables"], base=base)
    assert env.path.parent == shared / ENVS_BUCKET
    assert run_in(env, "import backend, editables; print(backend.__name__)") == "backend"
    later.release()


def test_a_layer_that_would_hide_a_file_of_its_base_is_made_whole_instead(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path / "cache", events)
    envs = BuildEnvs(cache, BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    base = envs.ensure(["backend"])
    (module,) = base.path.glob("lib/python*/site-packages/backend.py")
    before = module.read_bytes()
    # a wheel that would overwrite one of the base's files: made afresh, as pip would
    env = envs.ensure([*base.requirements, "overlay"], base=base)
    assert env.base is None and module.read_bytes() == before
    assert run_in(env, "import backend; print(backend.overlaid)") == "True"
    envs.release()


def test_a_layer_on_a_damaged_base_is_not_used(tmp_path: Path, events: RecordedEvents) -> None:
    cache = Cache(tmp_path / "cache", events)
    envs = BuildEnvs(cache, BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    base = envs.ensure(["backend"])
    env = envs.ensure([*base.requirements, "editables"], base=base)
    envs.release()
    (module,) = base.path.glob("lib/python*/site-packages/backend.py")
    module.write_text("broken = True\n")
    later = BuildEnvs(cache, BASE_PYTHON, tmp_path / "wh", True)
    again = later.ensure(["backend"])  # damaged: made anew, where it was
    assert again.path == base.path and module.read_text() != "broken = True\n"
    assert later.ensure(["backend", "editables"], base=again) == env
    assert run_in(env, "import backend, editables; print('ok')") == "ok"
    later.release()


def test_a_requirement_the_wheelhouse_cannot_meet_fails_in_one_line(
    tmp_path: Path, events: RecordedEvents
) -> None:
    wheelhouse = _backend_wheelhouse(tmp_path / "wh")
    envs = BuildEnvs(Cache(tmp_path / "cache", events), BASE_PYTHON, wheelhouse, True)
    with pytest.raises(CacheError) as failed:
        envs.ensure(["backend>=2"])
    message = str(failed.value)
    assert message.startswith("creating the build env ") and "\n" not in message
    assert f"no wheel in the wheelhouse {wheelhouse} satisfies backend>=2 (requested)" in message
    envs.release()


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


def _truncate_byte_code(env_path: Path) -> Path:
    (pyc,) = env_path.glob("lib/python*/site-packages/__pycache__/backend.*.pyc")
    pyc.write_bytes(pyc.read_bytes()[:20])  # its header whole, its code cut short
    return pyc


def test_damaged_byte_code_makes_an_env_a_miss(tmp_path: Path, events: RecordedEvents) -> None:
    """Python does not recompile a .pyc whose code is cut short: the import fails. An env
    with one is damaged, rebuilt, not used."""
    cache = Cache(tmp_path / "cache", events)
    envs = BuildEnvs(cache, BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    env = envs.ensure(["backend"])
    envs.release()
    _truncate_byte_code(env.path)
    later = BuildEnvs(cache, BASE_PYTHON, tmp_path / "wh", True)
    again = later.ensure(["backend"])
    assert run_in(again, "import backend; print('ok')") == "ok"
    later.release()


def test_byte_code_cut_short_while_making_an_env_is_a_full_cache(
    tmp_path: Path, events: RecordedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """py_compile ignores a short write on a full file system: the env fails as a full cache
    would, so the builder builds around it, and nothing is published."""
    install = _env_install.install

    def short_write(wheels: Any, path: Path, *args: Any) -> None:
        install(wheels, path, *args)
        _truncate_byte_code(path)

    monkeypatch.setattr(_env_install, "install", short_write)
    cache = Cache(tmp_path / "cache", events)
    envs = BuildEnvs(cache, BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    with pytest.raises(CacheError, match="a short write of byte code") as failed:
        envs.ensure(["backend"])
    envs.release()
    assert cache.unwritable(failed.value) == os.strerror(errno.ENOSPC)
    assert [p for p in (cache.root / ENVS_BUCKET).iterdir() if p.is_dir()] == []


def test_one_runner_makes_an_env_and_the_others_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An env is the same for all who need it: made once, however many ask at once."""
    wheelhouse = _backend_wheelhouse(tmp_path / "wh")
    create, made = BuildEnvs._create, []

    def slow_create(self: BuildEnvs, *args: Any) -> BuildEnv:
        made.append(self.cache.events.runner)
        time.sleep(1.0)  # long enough that the others come while it is made
        return create(self, *args)

    monkeypatch.setattr(BuildEnvs, "_create", slow_create)
    runners = [RecordedEvents() for _ in range(3)]
    got: list[BuildEnv] = []

    def runner(events: RecordedEvents) -> None:
        envs = BuildEnvs(
            Cache(tmp_path / "cache", events, lock_timeout=30), BASE_PYTHON, wheelhouse, True
        )
        got.append(envs.ensure(["backend"]))
        envs.release()

    threads = [threading.Thread(target=runner, args=(events,)) for events in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len({env.path for env in got}) == 1
    waited = [
        e for events in runners for e in events.records if e.op is Op.ENV and e.phase is Phase.HIT
    ]
    assert len(waited) == 2 and all(e.data.get("coalesced") for e in waited)


def test_a_maker_that_stops_costs_the_others_no_more_than_the_lock_timeout(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path / "cache", events, lock_timeout=0.5)
    envs = BuildEnvs(cache, BASE_PYTHON, _backend_wheelhouse(tmp_path / "wh"), True)
    stopped = cache.env_make_lock(env_key(["backend"], BASE_PYTHON))
    with _locks.held(stopped.path, stopped.key, stopped.kind, RecordedEvents()):
        env = envs.ensure(["backend"])  # made here, after half a second
    envs.release()
    assert run_in(env, "import backend; print('ok')") == "ok"
    assert Phase.TIMEOUT in events.phases(Op.LOCK)
