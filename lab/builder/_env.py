"""Isolated build environments, created offline from a wheelhouse and cached by a hash of
their requirements and interpreter, published the same narrow way as entries."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.builder._cache import ENVS, Cache
from lab.builder._errors import CacheError

_ENV_MANIFEST = "env.json"


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


def _read(path: Path) -> BuildEnv | None:
    try:
        meta = json.loads((path / _ENV_MANIFEST).read_text())
        env = BuildEnv(path, tuple(meta["requirements"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return env if env.python.exists() else None


def _run(cmd: list[str], env_path: Path) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:  # e.g. --python names no interpreter
        raise CacheError(f"creating the build env {env_path} failed: `{cmd[0]}`: {exc}") from exc
    if proc.returncode != 0:
        raise CacheError(
            f"creating the build env {env_path} failed: `{' '.join(cmd)}` "
            f"exited {proc.returncode}:\n{proc.stderr.strip()}"
        )


def _relocate_scripts(path: Path, final: Path) -> None:
    """Point the scripts' shebangs at the env's final place: pip wrote the scratch path."""
    old, new = f"#!{path}/bin/".encode(), f"#!{final}/bin/".encode()
    for script in (path / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as f:
            head = f.read(len(old))
        if head == old:
            script.write_bytes(new + script.read_bytes()[len(old) :])


def _create(
    path: Path,
    key: str,
    requirements: Sequence[str],
    python: Path,
    wheelhouse: Path,
    final: Path,
) -> None:
    """Make the env in ``path``, ready to be renamed to ``final``."""
    _run([str(python), "-m", "venv", "--without-pip", str(path)], path)
    if requirements:
        # pip runs from the builder's own interpreter and installs into the new env
        # (--python), so build envs need no pip of their own.
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(path / "bin" / "python"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-index",
                "--find-links",
                str(wheelhouse),
                *requirements,
            ],
            path,
        )
    if path != final:
        _relocate_scripts(path, final)
    (path / _ENV_MANIFEST).write_text(json.dumps({"key": key, "requirements": list(requirements)}))


def ensure_env(
    cache: Cache, requirements: Sequence[str], python: Path, wheelhouse: Path, atomic: bool
) -> BuildEnv:
    """The build env for ``requirements``: from the cache, or built and published.

    ``atomic=False`` (the unsafe ``none`` policy) builds in place, with no lock.
    """
    key = env_key(requirements, python)
    final = cache.env_dir(key)
    name = f"{ENVS}/{key}"
    found = _read(final)
    if found is not None:
        cache.events.emit("env", "hit", name)
        return found
    cache.events.emit("env", "miss", name, requirements=list(requirements))
    if not atomic:
        _create(final, key, requirements, python, wheelhouse, final)
        return BuildEnv(final, tuple(requirements))
    with cache.scratch() as scratch:
        built = scratch / "env"
        _create(built, key, requirements, python, wheelhouse, final)
        outcome, existing = cache.publish(built, final, _read, (cache.env_lock(key), name, "env"))
    cache.events.emit("env", outcome, name)
    env = existing or _read(final)
    if env is None:
        raise CacheError(f"the build env {final} vanished after publishing")
    return env
