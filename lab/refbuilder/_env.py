"""Isolated build environments, created offline from a wheelhouse and cached by a hash of
their requirements and interpreter, published the same narrow way as entries.

An env is a venv made ``--without-pip`` into which ``installer`` installs (``_env_install``)
the wheels that ``_resolve`` picks from the wheelhouse for the env's interpreter, their
scripts naming the env's final place: no pip runs, and nothing of the builder's own
dependencies leaks in. An env whose requirements add to those of one we use (the backend's
editable requires) is a layer on it: a venv of the wheels it lacks, whose site-packages adds
the base's (as a ``.pth``), so that nothing is copied and no file is in both.

An env is used only while it is whole: its manifest records every file's sha256, byte code
included, and one that no longer matches is a miss, made anew and replaced. One runner makes
an env while the others that need it wait, no longer than the lock timeout; every builder
holds the env's use lock while it uses it, so that a cleaner leaves it alone.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.contract import ENV_MANIFEST, Failpoint, Op, Phase
from lab.refbuilder import _env_install, _failpoints, _locks
from lab.refbuilder._cache import Cache, write_file
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


# 3: an env may be a layer on another ("base"); byte code is in "files". 4: a layer names its
# base relative to itself.
_MANIFEST_FORMAT = 4
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


def _layer(base: BuildEnv, path: Path, final: Path, interpreter: Interpreter) -> Path:
    """Make the venv in ``path`` (to be published at ``final``) a layer on ``base``: its
    site-packages adds the base's, .pth files and all, after its own. The .pth file that says
    so names the base relative to the layer: a cache is seen at other paths by other runners
    (a container's mount, a run's link to a shared cache that goes with the run)."""
    scheme = interpreter.scheme(path, "-")
    here = interpreter.scheme(final, "-")["purelib"]
    below = interpreter.scheme(base.path, "-")
    dirs = sorted({os.path.relpath(below[k], here) for k in ("purelib", "platlib")})
    # site.addpackage runs an import line with its own locals: `sitedir` is this directory
    lines = "".join(
        f"import os, site; site.addsitedir(os.path.normpath(os.path.join(sitedir, {d!r})))\n"
        for d in dirs
    )
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
            in_use = self.cache.env_in_use(key)
            self._in_use.append(_locks.hold_shared(in_use, self.cache.lock_timeout))
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
        _env_install.install(ours, path, final / "bin" / "python", facts, struck)
        files = _files(path)
        if base is None:
            return files
        if _overlaps(base, set(files) - venv):
            shutil.rmtree(path)
            return None
        pth = _layer(base, path, final, facts)
        return files | {pth.relative_to(path).as_posix(): _digest(pth)}
