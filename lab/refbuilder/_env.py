"""Isolated build environments, created offline from a wheelhouse and cached by a hash of
their requirements and interpreter, published the same narrow way as entries.

An env is a venv made ``--without-pip`` into which ``installer`` installs the wheels that
``_resolve`` picks from the wheelhouse for the env's interpreter, their scripts naming the
env's final place: no pip runs, and nothing of the builder's own dependencies leaks in. An
env whose requirements add to those of one we use (the backend's editable requires) starts
as a copy of it, verified against its manifest, plus the wheels it lacks.
"""

from __future__ import annotations

import compileall
import contextlib
import errno
import hashlib
import importlib.util
import json
import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from lab.contract import ENV_IN_USE, ENV_MANIFEST, ENVS_BUCKET, Failpoint, Op, Phase
from lab.refbuilder import _failpoints, _locks
from lab.refbuilder._cache import Cache, write_file
from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import CacheError, LockTimeout
from lab.refbuilder._resolve import Wheel, resolve
from lab.refbuilder._tree import file_digest
from lab.refbuilder._venvs import Interpreter, VenvError


@dataclass(frozen=True)
class BuildEnv:
    path: Path
    requirements: tuple[str, ...]
    wheels: tuple[str, ...] = ()  # the wheel files it was made from (unknown: none)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def env_key(requirements: Sequence[str], python: Path) -> str:
    payload = json.dumps([sorted(requirements), os.path.realpath(python)])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# 2: byte code is in "files", and every .pyc loaded before the env was published.
_MANIFEST_FORMAT = 2


def _files(path: Path, known: dict[str, str] | None = None) -> dict[str, str]:
    """Every file of an env, byte code included, as path -> sha256. Byte code too: a damaged
    .pyc is not recompiled but fails the import ("marshal data too short"). ``known``: files
    whose digests are known already, not read again."""
    known = known or {}
    found = {}
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            file = Path(dirpath) / name
            if name != ENV_MANIFEST and not file.is_symlink():
                rel = file.relative_to(path).as_posix()
                found[rel] = known.get(rel) or file_digest(file)
    return found


def _read(path: Path) -> BuildEnv | None:
    """The env in ``path`` if it is whole: every file it was published with, unchanged. A
    damaged env is a miss, to be rebuilt and replaced."""
    try:
        meta = json.loads((path / ENV_MANIFEST).read_text())
        if meta.get("format") != _MANIFEST_FORMAT:
            return None  # made by an older builder, whose manifest left byte code out
        env = BuildEnv(path, tuple(meta["requirements"]), tuple(meta.get("wheels", ())))
        files = dict(meta["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not env.python.exists():
        return None
    try:
        whole = all(file_digest(path / rel) == digest for rel, digest in files.items())
    except OSError:
        return None
    return env if whole else None


# Byte code is compiled on up to this many processes, where there are this many modules.
_COMPILE_WORKERS = min(len(os.sched_getaffinity(0)), 4)
_IN_PARALLEL_FROM = 64


def _use_lock(env_dir: Path) -> Path:
    """Held shared by every builder that uses the env; a cleaner takes it exclusively."""
    return env_dir.with_name(f"{env_dir.name}{ENV_IN_USE}")


def remove_unused(cache: Cache) -> tuple[list[str], list[str]]:
    """Remove the build envs nobody is using: each is moved aside in one rename while its
    use lock is ours, then deleted. What was removed, and what was in use and kept."""
    removed, kept = [], []
    bucket = cache.root / ENVS_BUCKET
    for env_dir in sorted(p for p in bucket.glob("*") if p.is_dir()) if bucket.is_dir() else []:
        fd = _locks.try_exclusive(_use_lock(env_dir))
        if fd is None:
            kept.append(env_dir.name)
            continue
        try:
            cache.discard(env_dir)
        finally:
            _locks.release(fd)
        removed.append(env_dir.name)
    return removed, kept


def _install(
    wheels: Sequence[Wheel],
    path: Path,
    python: Path,
    interpreter: Interpreter,
    overwrite: bool,
    struck: Callable[[], None],
) -> None:
    """Install ``wheels`` into the venv at ``path`` with ``installer``, their scripts
    running ``python`` (the env's final place); byte code is ``_compile``'s. ``struck`` runs
    once the first wheel is in, the env half made (or at the end, where there is none)."""
    for wheel in wheels:
        destination = SchemeDictionaryDestination(
            interpreter.scheme(path, wheel.name),
            interpreter=str(python),
            script_kind="posix",
            bytecode_optimization_levels=(),
            overwrite_existing=overwrite,
        )
        try:
            with WheelFile.open(wheel.path) as source:
                install(source, destination, {"INSTALLER": b"cachelab\n"})
        except FileExistsError:  # only where told not to overwrite: the caller's to handle
            raise
        except Exception as exc:  # installer raises several kinds; each means the same here
            raise CacheError(
                f"creating the build env {path} failed: installing {wheel.path}: {exc}"
            ) from exc
        if wheel is wheels[0]:
            struck()
    if not wheels:
        struck()


def _compile(path: Path, interpreter: Interpreter) -> None:
    """Compile the byte code of every module in the env ``path`` that lacks it, where the
    builder's interpreter makes the env's. Many modules are compiled by ``compileall`` on
    several processes, in a child of its own (it dies with the builder; being exec'd, it
    holds none of the builder's locks): every runner that needs the env waits for it."""
    if interpreter.cache_tag != sys.implementation.cache_tag:
        return
    roots = sorted({interpreter.scheme(path, "-")[name] for name in ("purelib", "platlib")})
    files = [
        module
        for root in roots
        for module in Path(root).rglob("*.py")
        if not Path(importlib.util.cache_from_source(str(module))).exists()
    ]
    if len(files) >= _IN_PARALLEL_FROM and _COMPILE_WORKERS > 1:
        # -qq: a module that does not compile (a vendored Python 2 test, say) stays without
        # byte code, as installer leaves it
        cmd = [sys.executable, "-I", "-m", "compileall", "-qq", "-j", str(_COMPILE_WORKERS)]
        _run_compileall([*cmd, *roots], path)
        return
    for module in files:
        # quiet: nothing may reach stdout, which carries the builder's result
        compileall.compile_file(str(module), quiet=2)


def _run_compileall(cmd: list[str], path: Path) -> None:
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, preexec_fn=die_with_parent
        )
    except OSError as exc:  # e.g. no process can be started: the system's limit
        raise CacheError(f"creating the build env {path} failed: compileall: {exc}") from exc
    # compileall exits 1 where a module did not compile; only a signal means it did not run
    if proc.returncode < 0:
        raise CacheError(
            f"creating the build env {path} failed: compileall died by signal {-proc.returncode}"
        )


def _check_bytecode(path: Path) -> None:
    """Every .pyc in the env ``path`` loads. py_compile's atomic write ignores a short write,
    so a file system that fills up leaves a truncated .pyc in place of a failure; it fails
    here as the full file system it is (the builder then builds around the cache)."""
    for pyc in path.rglob("__pycache__/*.pyc"):
        data = pyc.read_bytes()
        if data[:4] != importlib.util.MAGIC_NUMBER:
            continue  # another Python's, shipped in a wheel: not ours to load
        try:
            marshal.loads(data[16:])  # past the header: magic, flags, mtime, size
        except (EOFError, ValueError, TypeError) as exc:
            full = OSError(errno.ENOSPC, f"a short write of byte code: {pyc}: {exc}")
            raise CacheError(f"creating the build env {path} failed: {full}") from full


def _copy_tree(source: Path, dest: Path) -> None:
    """Make ``dest`` a copy of the env ``source``, its symbolic links as links, without its
    manifest. A copy, not hard links: an env shares no file with another, so nothing written
    into one (a backend's cache, a rebuild in place under ``none``) can reach a published env."""
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(ENV_MANIFEST))


def _relocate_scripts(path: Path, old: Path, new: Path) -> list[str]:
    """Point the scripts of the env in ``path`` that run the interpreter ``old`` at ``new``,
    each written anew and renamed into place; the ones rewritten, relative to ``path``."""
    rewritten = []
    before, after = str(old).encode(), str(new).encode()
    for script in (path / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as f:
            if f.read(2) != b"#!":
                continue  # a binary
        data = script.read_bytes()
        # the shebang, or installer's launcher for long paths: #!/bin/sh, then exec '<python>'
        header = b"\n".join(data.split(b"\n", 3)[:3])
        if before in header:
            write_file(script, header.replace(before, after) + data[len(header) :])
            rewritten.append(script.relative_to(path).as_posix())
    return rewritten


class BuildEnvs:
    """Build environments in one cache, made with one interpreter from one wheelhouse.

    ``atomic=False`` (the unsafe ``none`` policy) builds an env in place, with no lock.
    """

    def __init__(self, cache: Cache, python: Path, wheelhouse: Path, atomic: bool) -> None:
        self.cache = cache
        self.python = python
        self.wheelhouse = wheelhouse
        self.atomic = atomic
        self._in_use: list[int] = []

    def release(self) -> None:
        """Say we no longer use the envs we were given (the process's end says it too)."""
        while self._in_use:
            _locks.release(self._in_use.pop())

    def ensure(self, requirements: Sequence[str], base: BuildEnv | None = None) -> BuildEnv:
        """The build env for ``requirements``: from the cache, or built and published. It
        stays ours to use (a cleaner leaves it alone) until ``release``. ``base``, an env
        we use whose requirements are a part of these, may serve to make it faster."""
        key = env_key(requirements, self.python)
        final = self.cache.env_dir(key)
        name = self.cache.env_name(key)
        if self.atomic:
            self._in_use.append(_locks.hold_shared(_use_lock(final), self.cache.lock_timeout))
        found = _read(final)
        events = self.cache.events
        if found is not None:
            events.emit(Op.ENV, Phase.HIT, name)
            return found
        if not self.atomic:
            events.emit(Op.ENV, Phase.MISS, name, requirements=list(requirements))
            return self._create(final, key, requirements, final, base)
        # An env is the same for every runner that needs it: one makes it, the others wait
        # for it rather than make it again, as long as the lock timeout allows. Past that (its
        # maker stopped or slow), we make our own: the publish keeps one of them.
        with contextlib.ExitStack() as making:
            try:
                making.enter_context(self.cache.held(self.cache.env_make_lock(key)))
            except LockTimeout:
                pass
            else:
                if (final / ENV_MANIFEST).is_file():
                    making.close()  # checked whole without the lock: the others wait for it
                    found = _read(final)
                    if found is not None:
                        events.emit(Op.ENV, Phase.HIT, name, coalesced=True)
                        return found
            events.emit(Op.ENV, Phase.MISS, name, requirements=list(requirements))
            with self.cache.scratch() as scratch:
                built = scratch / "env"
                self._create(built, key, requirements, final, base)
                lock = self.cache.env_lock(key)
                outcome, existing = self.cache.publish(built, final, _read, lock)
        events.emit(Op.ENV, outcome, name)
        env = existing or _read(final)
        if env is None:
            raise CacheError(f"the build env {final} vanished after publishing")
        return env

    def _interpreter(self, env_path: Path) -> Interpreter:
        """Our interpreter's facts (for the env in ``env_path``)."""
        try:
            return Interpreter.of(self.python)
        except VenvError as exc:
            raise CacheError(f"creating the build env {env_path} failed: {exc}") from exc

    def _create(
        self, path: Path, key: str, requirements: Sequence[str], final: Path, base: BuildEnv | None
    ) -> BuildEnv:
        """Make the env in ``path``, ready to be renamed to ``final``: a venv without pip, the
        requirements' wheels resolved against the wheelhouse and installed by ``installer``.
        Where ``base`` (an env of this interpreter, ours to use) holds some of those wheels,
        and nothing else, the env starts as a copy of it."""
        facts = self._interpreter(path)
        try:
            wheels = resolve(requirements, self.wheelhouse, facts.target)
        except CacheError as exc:
            raise CacheError(f"creating the build env {path} failed: {exc}") from exc
        names = tuple(wheel.path.name for wheel in wheels)
        python = final / "bin" / "python"

        def struck() -> None:
            # a builder killed here leaves a half-made env in its scratch dir
            if requirements:
                _failpoints.hit(Failpoint.ENV_CREATE, self.cache.events)

        copied = None  # the files copied from base, as path -> sha256
        if base is not None and base.wheels and set(base.wheels) <= set(names):
            rest = [wheel for wheel in wheels if wheel.path.name not in base.wheels]
            copied = _extend(base, path, rest, facts, python, struck)
        if copied is None:
            try:
                facts.create(path)
            except VenvError as exc:
                raise CacheError(f"creating the build env {path} failed: {exc}") from exc
            _install(wheels, path, python, facts, True, struck)
        _compile(path, facts)
        _check_bytecode(path)
        manifest = {
            "format": _MANIFEST_FORMAT,
            "key": key,
            "requirements": list(requirements),
            "wheels": list(names),
            "files": _files(path, known=copied),
        }
        write_file(path / ENV_MANIFEST, json.dumps(manifest).encode())
        return BuildEnv(final, tuple(requirements), names)


def _extend(
    base: BuildEnv,
    path: Path,
    wheels: Sequence[Wheel],
    facts: Interpreter,
    python: Path,
    struck: Callable[[], None],
) -> dict[str, str] | None:
    """Make the env in ``path`` a copy of ``base`` plus ``wheels``, whose scripts run
    ``python``; the digests of the files copied and left as they were. None where that
    cannot be done safely, and then nothing is at ``path``: the copy is not what ``base``
    was published with, or a wheel would overwrite its files."""
    if path.exists():  # `none` builds in place, maybe over a damaged env: no copy
        return None
    try:
        published = json.loads((base.path / ENV_MANIFEST).read_text())["files"]
        _copy_tree(base.path, path)
        same = _files(path) == published
    except (OSError, ValueError, KeyError, TypeError):
        same = False
    if same:
        try:
            _install(wheels, path, python, facts, False, struck)
        except FileExistsError:
            pass
        else:
            for rewritten in _relocate_scripts(path, base.python, python):
                published.pop(rewritten, None)
            return dict(published)
    shutil.rmtree(path, ignore_errors=True)
    return None
