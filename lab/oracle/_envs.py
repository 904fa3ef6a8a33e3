"""The oracle's build environments: a venv per set of requirements, installed by pip offline
from the lab's wheelhouse, kept under ``<oracle root>/envs/<key>/`` and reused by every
oracle build that needs the same set (of the same interpreter and wheelhouse).

An env is made in its final place (its scripts' shebangs name it) under a file lock, and is
whole once its ``.complete`` stamp is there: a process that finds an env without one (its
maker died) makes it again under the lock, and concurrent oracles wait for one maker instead
of racing. Nothing here reads or writes a runner's cache; pip runs with no cache and no
configuration, in the oracle's ``environment`` (below), nothing of the host's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from filelock import FileLock

from lab.oracle._errors import OracleError

_COMPLETE = ".complete"
_TIMEOUT_S = 900
_TAIL = 15  # lines of pip's output an error keeps as its detail
_LOCALE = "C.UTF-8"  # a runner's (``lab.subjects.base.plain_env``)


def environment(path: str, home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """What the oracle's processes run with, and nothing else of the host's, as a runner gets
    nothing else: ``path`` as PATH, ``home`` as HOME, a UTF-8 locale, no pip configuration,
    and ``extra`` (what the source's runners get for its build). A hook's env puts its
    scripts first on PATH, and its build a TMPDIR of its own."""
    said = {"PATH": path, "HOME": str(home), "LANG": _LOCALE, "LC_ALL": _LOCALE}
    return {**said, "PIP_CONFIG_FILE": os.devnull, **extra}


@cache
def interpreter(python: Path) -> dict[str, object]:
    """What ``python`` is (its version, byte code tag, platform) and its venv scheme below a
    placeholder prefix: asked once per process."""
    code = (
        "import json, sys, sysconfig\n"
        "s = 'venv' if 'venv' in sysconfig.get_scheme_names() else 'posix_prefix'\n"
        "p = sysconfig.get_paths(s, vars={'base': '/@prefix@', 'platbase': '/@prefix@'})\n"
        "print(json.dumps({'version': sys.version, 'tag': sys.implementation.cache_tag,\n"
        "  'platform': sysconfig.get_platform(), 'paths': p}))\n"
    )
    try:
        proc = subprocess.run(
            [str(python), "-I", "-c", code], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise OracleError(f"the oracle's interpreter {python} does not run: {exc}") from exc
    said: dict[str, object] = json.loads(proc.stdout)
    return said


@cache
def wheelhouse_digest(wheelhouse: Path) -> str:
    """The wheelhouse as the oracle keys by it: every wheel's name (name and version) and
    size. Asked once per process: a run does not change it."""
    h = hashlib.sha256()
    for wheel in sorted(wheelhouse.glob("*.whl")):
        h.update(f"{wheel.name}\0{wheel.stat().st_size}\0".encode())
    return h.hexdigest()[:16]


def _pip(wheelhouse: Path) -> Path:
    found = sorted(wheelhouse.glob("pip-*.whl"))
    if not found:
        raise OracleError(f"the wheelhouse {wheelhouse} has no pip: run `cachelab setup`")
    return found[-1] / "pip"  # pip runs from its own wheel


@dataclass(frozen=True)
class Envs:
    root: Path  # <oracle root>/envs
    python: Path  # the interpreter the envs are made of
    wheelhouse: Path
    environ: Mapping[str, str]  # what pip runs with (``environment``)

    def key(self, requirements: list[str]) -> str:
        said = {
            "requirements": requirements,
            "python": interpreter(self.python)["version"],
            "wheelhouse": wheelhouse_digest(self.wheelhouse),
        }
        return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()[:16]

    def python_of(self, requirements: Iterable[str]) -> Path:
        """The interpreter of the env that holds ``requirements``, made where missing."""
        wanted = sorted(set(requirements))
        env = self.root / self.key(wanted)
        if (env / _COMPLETE).is_file():
            return env / "bin" / "python"
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(env.with_name(f"{env.name}.lock"))):
            if not (env / _COMPLETE).is_file():
                self._make(env, wanted)
        return env / "bin" / "python"

    def _make(self, env: Path, requirements: list[str]) -> None:
        shutil.rmtree(env, ignore_errors=True)  # what a maker that died left
        self._run([str(self.python), "-m", "venv", "--without-pip", str(env)], requirements)
        if requirements:
            pip = [sys.executable, str(_pip(self.wheelhouse)), "--python", str(env / "bin/python")]
            offline = ["--no-index", "--find-links", str(self.wheelhouse), "--no-cache-dir"]
            quiet = ["--disable-pip-version-check", "--no-input", "--quiet"]
            self._run([*pip, "install", *offline, *quiet, *requirements], requirements)
        (env / _COMPLETE).write_text(json.dumps(requirements) + "\n")

    def _run(self, cmd: list[str], requirements: list[str]) -> None:
        try:
            proc = subprocess.run(
                cmd, env=dict(self.environ), capture_output=True, text=True, timeout=_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OracleError(f"the oracle's env for {requirements}: `{cmd[0]}`: {exc}") from exc
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
            raise OracleError(
                f"the oracle's env for {requirements} cannot be made offline from "
                f"{self.wheelhouse} (exit {proc.returncode}): {said[-1]}",
                "\n".join(said[-_TAIL:]),
            )
