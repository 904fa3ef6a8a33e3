"""Isolated build environments, created offline from a wheelhouse and cached by a hash of
their requirements and interpreter, published the same narrow way as entries.

An env is a venv made ``--without-pip`` into which ``installer`` installs the wheels that
``_resolve`` picks from the wheelhouse for the env's interpreter, their scripts naming the
env's final place: no pip runs, and nothing of the builder's own dependencies leaks in. An
env whose requirements add to those of one we use (the backend's editable requires) is a
layer on it: a venv of the wheels it lacks, whose site-packages adds the base's (as a
``.pth``), so that nothing is copied and no file is in both.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import importlib.util
import json
import marshal
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from lab.contract import ENV_IN_USE, ENV_MANIFEST, ENVS_BUCKET, Failpoint, Op, Phase
from lab.refbuilder import _failpoints, _locks
from lab.refbuilder._cache import Cache, write_file
from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import CacheError, LockTimeout
from lab.refbuilder._resolve import Wheel, resolve
from lab.refbuilder._venvs import Interpreter, VenvError


@dataclass(frozen=True)
class BuildEnv:
    path: Path
    requirements: tuple[str, ...]
    wheels: tuple[str, ...] = ()  # the wheel files it was made from, its base's too
    base: BuildEnv | None = None  # the env it is a layer on

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def scripts(self) -> tuple[Path, ...]:
        """Where its scripts are, its own before its base's."""
        return (self.path / "bin", *(self.base.scripts if self.base else ()))


def env_key(requirements: Sequence[str], python: Path) -> str:
    payload = json.dumps([sorted(requirements), os.path.realpath(python)])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# 3: an env may be a layer on another ("base"); byte code is in "files".
_MANIFEST_FORMAT = 3
# In a layer's site-packages: adds its base's, .pth files and all, after its own.
_BASE_PTH = "_cachelab_base.pth"


def _digest(file: Path) -> str:
    """``file``'s sha256. Byte code is loaded too: a .pyc cut short (py_compile's atomic write
    ignores a short write on a full file system) is not recompiled but fails the import
    ("marshal data too short"), so it fails here, as the full file system it is."""
    data = file.read_bytes()
    if file.suffix == ".pyc" and data[:4] == importlib.util.MAGIC_NUMBER:
        try:
            marshal.loads(data[16:])  # past the header: magic, flags, mtime, size
        except (EOFError, ValueError, TypeError) as exc:
            raise OSError(errno.ENOSPC, f"a short write of byte code: {file}: {exc}") from exc
    return hashlib.sha256(data).hexdigest()


def _walk(path: Path, below: str = "") -> Iterator[str]:
    """The env's files (not its links, not its manifest), relative to ``path``."""
    with os.scandir(path / below) as entries:  # a directory entry knows its type: no stat
        for entry in entries:
            rel = f"{below}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(path, f"{rel}/")
            elif entry.is_file(follow_symlinks=False) and rel != ENV_MANIFEST:
                yield rel


def _files(path: Path) -> dict[str, str]:
    """Every file of the env just made in ``path``, byte code included, as path -> sha256."""
    try:
        return {rel: _digest(path / rel) for rel in _walk(path)}
    except OSError as exc:
        raise CacheError(f"creating the build env {path} failed: {exc}") from exc


def _manifest(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((path / ENV_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _read(path: Path, base: BuildEnv | None = None) -> BuildEnv | None:
    """The env in ``path`` if it is whole: every file it was published with, unchanged. A
    damaged env is a miss, to be rebuilt and replaced. A layer is whole only on the base it
    was made on, given as ``base`` (which the caller holds, and has verified)."""
    meta = _manifest(path)
    if meta is None or meta.get("format") != _MANIFEST_FORMAT:
        return None  # made by an older builder, whose manifest says less
    try:
        wheels, requirements = tuple(meta["wheels"]), tuple(meta["requirements"])
        files, layered_on = dict(meta["files"]), meta.get("base")
    except (KeyError, TypeError, ValueError):
        return None
    if layered_on is not None and (
        base is None
        or base.path != path.parent / str(layered_on)
        or not set(base.wheels) <= set(wheels)
    ):
        return None
    env = BuildEnv(path, requirements, wheels, base if layered_on is not None else None)
    if not env.python.exists():
        return None
    try:
        whole = all(_digest(path / rel) == digest for rel, digest in files.items())
    except OSError:
        return None
    return env if whole else None


# Wheels are installed (and their byte code compiled) on up to this many processes, where
# installing them costs this much: a fork costs less than a tenth of that.
_WORKERS = min(len(os.sched_getaffinity(0)), 4)
_IN_PARALLEL_FROM = 512 * 1024
# What writing one file costs, in bytes of Python compiled in the same time: a file system
# that makes new files slowly (this project's machine's ext4, up to a millisecond a file for
# a while after many deletions) makes a wheel of many small modules cost more than its bytes.
_FILE_COST = 4 * 1024


def _cost(wheel: Wheel, compiled: bool) -> int:
    """What installing ``wheel`` costs, in bytes of Python compiled: every file it writes,
    and (``compiled``) its Python, compiling which is the most of the work, and the byte
    code written for it."""
    try:
        with zipfile.ZipFile(wheel.path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile):
        return 0  # installing it says what is wrong with it
    cost = _FILE_COST * len(members)
    if compiled:
        python = [i for i in members if i.filename.endswith(".py")]
        cost += sum(i.file_size for i in python) + _FILE_COST * len(python)
    return cost


def _shares(wheels: Sequence[Wheel], workers: int, compiled: bool) -> list[list[Wheel]]:
    """``wheels`` shared out among at most ``workers`` processes, about evenly by cost: the
    costliest first, each to the least loaded. One share where they cost too little."""
    costs = sorted(((_cost(w, compiled), w) for w in wheels), key=lambda cw: -cw[0])
    if sum(cost for cost, _ in costs) < _IN_PARALLEL_FROM:
        workers = 1
    shares: list[list[Wheel]] = [[] for _ in range(max(min(workers, len(wheels)), 1))]
    loads = [0] * len(shares)
    for cost, wheel in costs:
        least = loads.index(min(loads))
        shares[least].append(wheel)
        loads[least] += cost
    return shares


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
    struck: Callable[[], None],
) -> None:
    """Install ``wheels`` into the venv at ``path`` with ``installer``, their scripts
    running ``python`` (the env's final place), and compile their byte code where the
    builder's interpreter makes the env's: every runner that needs the env waits for it.
    Many wheels are shared out among forks of the builder, which have all they need
    imported already (a new interpreter would import it all again). ``struck`` runs once the
    first wheel is in, the env half made (or at the end, where there is none)."""
    compiled = interpreter.cache_tag == sys.implementation.cache_tag
    shares = _shares(wheels, _WORKERS, compiled)

    def install_share(share: Sequence[Wheel], first_in: Callable[[], None]) -> None:
        for wheel in share:
            _install_one(wheel, path, python, interpreter, compiled)
            if wheel is share[0]:
                first_in()

    mine, forks = shares[:1], []
    for share in shares[1:]:
        try:
            forks.append(_fork(functools.partial(install_share, share, lambda: None)))
        except OSError:  # e.g. the system's limit on processes: installed here instead
            mine.append(share)
    failed = []
    try:
        for share in mine:
            install_share(share, struck)
    except CacheError as exc:
        failed.append(str(exc))
    finally:
        failed += [why for why in (_joined(*fork) for fork in forks) if why is not None]
    if failed:
        raise CacheError(f"creating the build env {path} failed: {failed[0]}")
    if not wheels:
        struck()


def _install_one(
    wheel: Wheel, path: Path, python: Path, interpreter: Interpreter, compiled: bool
) -> None:
    destination = SchemeDictionaryDestination(
        interpreter.scheme(path, wheel.name),
        interpreter=str(python),
        script_kind="posix",
        bytecode_optimization_levels=(0,) if compiled else (),
        overwrite_existing=True,
    )
    try:
        # a module that does not compile (a vendored Python 2 test, say) stays without byte
        # code, and compileall says so on stdout, which carries the builder's result
        with WheelFile.open(wheel.path) as source, contextlib.redirect_stdout(sys.stderr):
            install(source, destination, {"INSTALLER": b"cachelab\n"})
    except Exception as exc:  # installer raises several kinds; each means the same here
        raise CacheError(f"installing {wheel.path}: {exc}") from exc


def _fork(work: Callable[[], None]) -> tuple[int, int]:
    """Run ``work`` in a fork of the builder that dies with it; its pid, and the end of a
    pipe that says why it failed. The fork runs nothing else of the builder's (none of its
    threads, no cleanup), and leaves as soon as its output is flushed."""
    said, tell = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # or the fork would write what is buffered again
        stream.flush()
    try:
        pid = os.fork()
    except OSError:
        os.close(said)
        os.close(tell)
        raise
    if pid == 0:
        code = 1
        try:
            os.close(said)
            die_with_parent()
            work()
            code = 0
        except BaseException as exc:
            os.write(tell, str(exc).encode(errors="replace"))
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    os.close(tell)
    return pid, said


def _joined(pid: int, said: int) -> str | None:
    """Wait for the fork ``pid``: None where it did its work, else why not."""
    with os.fdopen(said, "rb") as pipe:
        why = pipe.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code == 0:
        return None
    return why or f"a fork of the builder exited {code}"


def _layer(base: BuildEnv, path: Path, interpreter: Interpreter) -> Path:
    """Make the venv in ``path`` a layer on ``base``: its site-packages adds the base's, .pth
    files and all, after its own. The .pth file that says so."""
    scheme = interpreter.scheme(path, "-")
    below = interpreter.scheme(base.path, "-")
    dirs = sorted({below["purelib"], below["platlib"]})
    lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in dirs)
    pth = Path(scheme["purelib"]) / _BASE_PTH
    write_file(pth, lines.encode())
    return pth


def _overlaps(base: BuildEnv, installed: set[str]) -> bool:
    """Whether a layer installed a file its base has too: one would hide the other."""
    below = _manifest(base.path)
    return below is None or not installed.isdisjoint(below.get("files", ()))


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
        we use whose requirements are a part of these, is what a layer is made on: the env
        is one where it can be (and was), else it is made whole."""
        key = env_key(requirements, self.python)
        final = self.cache.env_dir(key)
        name = self.cache.env_name(key)
        if self.atomic:
            self._in_use.append(_locks.hold_shared(_use_lock(final), self.cache.lock_timeout))
        read = functools.partial(_read, base=base)
        found = read(final)
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
                    found = read(final)
                    if found is not None:
                        events.emit(Op.ENV, Phase.HIT, name, coalesced=True)
                        return found
            events.emit(Op.ENV, Phase.MISS, name, requirements=list(requirements))
            with self.cache.scratch() as scratch:
                made = self._create(scratch / "env", key, requirements, final, base)
                lock = self.cache.env_lock(key)
                outcome, existing = self.cache.publish(scratch / "env", final, read, lock)
        events.emit(Op.ENV, outcome, name)
        return existing or made

    def _interpreter(self, env_path: Path) -> Interpreter:
        """Our interpreter's facts (for the env in ``env_path``)."""
        try:
            return Interpreter.of(self.python)
        except VenvError as exc:
            raise CacheError(f"creating the build env {env_path} failed: {exc}") from exc

    def _create(
        self, path: Path, key: str, requirements: Sequence[str], final: Path, base: BuildEnv | None
    ) -> BuildEnv:
        """Make the env in ``path``, to be renamed to ``final``: a venv without pip, the
        requirements' wheels resolved against the wheelhouse and installed by ``installer``.
        Where ``base`` holds some of those wheels, and no others, the env is a layer on it
        of the rest; unless a file of theirs is also the base's: then it is made whole."""
        facts = self._interpreter(path)
        try:
            wheels = resolve(requirements, self.wheelhouse, facts.target)
        except CacheError as exc:
            raise CacheError(f"creating the build env {path} failed: {exc}") from exc
        names = tuple(wheel.path.name for wheel in wheels)
        files = None
        if base is not None and base.wheels and set(base.wheels) <= set(names):
            files = self._make(path, facts, wheels, final, base)
        if files is None:
            base, files = None, self._make(path, facts, wheels, final, None)
        assert files is not None  # only a layer is given up on
        manifest = {
            "format": _MANIFEST_FORMAT,
            "key": key,
            "requirements": list(requirements),
            "wheels": list(names),
            "files": files,
            **({"base": base.path.name} if base is not None else {}),
        }
        write_file(path / ENV_MANIFEST, json.dumps(manifest).encode())
        return BuildEnv(final, tuple(requirements), names, base)

    def _make(
        self,
        path: Path,
        facts: Interpreter,
        wheels: Sequence[Wheel],
        final: Path,
        base: BuildEnv | None,
    ) -> dict[str, str] | None:
        """Make the env in ``path`` (its scripts running ``final``'s python) of ``wheels``, or
        a layer on ``base`` of those it lacks; its files. None, and nothing left in
        ``path``, where such a layer would hide a file of its base's."""

        def struck() -> None:
            # a builder killed here leaves a half-made env in its scratch dir
            if wheels:
                _failpoints.hit(Failpoint.ENV_CREATE, self.cache.events)

        try:
            facts.create(path)
        except VenvError as exc:
            raise CacheError(f"creating the build env {path} failed: {exc}") from exc
        venv = set(_walk(path)) if base else set()  # a layer's and its base's are alike
        ours = [w for w in wheels if base is None or w.path.name not in base.wheels]
        _install(ours, path, final / "bin" / "python", facts, struck)
        files = _files(path)
        if base is None:
            return files
        if _overlaps(base, set(files) - venv):
            shutil.rmtree(path)
            return None
        pth = _layer(base, path, facts)
        return files | {pth.relative_to(path).as_posix(): _digest(pth)}
