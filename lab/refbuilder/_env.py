"""Isolated build environments, created offline from a wheelhouse and cached by a hash of
their requirements and interpreter, published the same narrow way as entries."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.contract import ENV_IN_USE, ENV_MANIFEST, ENVS_BUCKET, Failpoint, Op, Phase
from lab.refbuilder import _failpoints, _locks
from lab.refbuilder._cache import Cache, write_file
from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import CacheError
from lab.refbuilder._tree import file_digest


@dataclass(frozen=True)
class BuildEnv:
    path: Path
    requirements: tuple[str, ...]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def env_key(requirements: Sequence[str], python: Path) -> str:
    payload = json.dumps([sorted(requirements), os.path.realpath(python)])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _files(path: Path) -> dict[str, str]:
    """Every file of an env, as path -> sha256 (byte code aside: Python rewrites it)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            file = Path(dirpath) / name
            if name != ENV_MANIFEST and not file.is_symlink():
                found[file.relative_to(path).as_posix()] = file_digest(file)
    return found


def _read(path: Path) -> BuildEnv | None:
    """The env in ``path`` if it is whole: every file it was published with, unchanged. A
    damaged env is a miss, to be rebuilt and replaced."""
    try:
        meta = json.loads((path / ENV_MANIFEST).read_text())
        env = BuildEnv(path, tuple(meta["requirements"]))
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


def _run(
    what: str, cmd: list[str], env_path: Path, while_running: Callable[[], None] | None = None
) -> None:
    """Run ``cmd`` to make the env at ``env_path``; CacheError in one line if it fails."""
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
    except OSError as exc:  # e.g. --python names no interpreter
        raise CacheError(f"creating the build env {env_path} failed: `{cmd[0]}`: {exc}") from exc
    with proc:
        if while_running is not None:
            while_running()
        _, stderr = proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(stderr)  # all of it for the log; its last line for the message
        said = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise CacheError(
            f"creating the build env {env_path} failed: {what} exited {proc.returncode}: "
            f"{said[-1] if said else 'no message'}"
        )


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


def _pip_runner() -> str:
    """pip's own script for running this copy of pip under another interpreter.

    It makes only ``pip`` importable from where this pip lives, so nothing else there (the
    builder's own dependencies, in a bundle or a venv) looks installed to the new env."""
    spec = importlib.util.find_spec("pip")
    if spec is None or spec.origin is None:
        raise CacheError("pip is not importable here: the builder needs it for build envs")
    return str(Path(spec.origin).parent / "__pip-runner__.py")


def _relocate_scripts(path: Path, final: Path) -> None:
    """Point the scripts' shebangs at the env's final place: pip wrote the scratch path."""
    old, new = f"#!{path}/bin/".encode(), f"#!{final}/bin/".encode()
    for script in (path / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as f:
            head = f.read(len(old))
        if head == old:
            write_file(script, new + script.read_bytes()[len(old) :])


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

    def ensure(self, requirements: Sequence[str]) -> BuildEnv:
        """The build env for ``requirements``: from the cache, or built and published. It
        stays ours to use (a cleaner leaves it alone) until ``release``."""
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
        events.emit(Op.ENV, Phase.MISS, name, requirements=list(requirements))
        if not self.atomic:
            self._create(final, key, requirements, final)
            return BuildEnv(final, tuple(requirements))
        with self.cache.scratch() as scratch:
            built = scratch / "env"
            self._create(built, key, requirements, final)
            outcome, existing = self.cache.publish(built, final, _read, self.cache.env_lock(key))
        events.emit(Op.ENV, outcome, name)
        env = existing or _read(final)
        if env is None:
            raise CacheError(f"the build env {final} vanished after publishing")
        return env

    def _create(self, path: Path, key: str, requirements: Sequence[str], final: Path) -> None:
        """Make the env in ``path``, ready to be renamed to ``final``."""
        _run("venv", [str(self.python), "-m", "venv", "--without-pip", str(path)], path)
        if requirements:
            # The builder's pip runs under the new env's interpreter and installs into it, so
            # build envs need no pip of their own (pip's --python does the same).
            _run(
                f"pip installing {', '.join(requirements)} from {self.wheelhouse}",
                [
                    str(path / "bin" / "python"),
                    _pip_runner(),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-index",
                    "--find-links",
                    str(self.wheelhouse),
                    *requirements,
                ],
                path,
                # the failpoint strikes while pip writes the env: a builder killed here leaves
                # its pip child writing into its scratch dir
                lambda: _failpoints.hit(Failpoint.ENV_CREATE, self.cache.events),
            )
        if path != final:
            _relocate_scripts(path, final)
        manifest = {"key": key, "requirements": list(requirements), "files": _files(path)}
        write_file(path / ENV_MANIFEST, json.dumps(manifest).encode())
