"""Venvs of one interpreter: what installing into them takes, and making them.

Where that interpreter is the one running the builder (the usual case: a runner starts the
builder with the interpreter it builds for), both happen in the builder's own process; a
subprocess costs more than the work. Any other interpreter is asked, and runs ``venv``."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import packaging

from lab.refbuilder import _describe
from lab.refbuilder._children import die_with_parent
from lab.refbuilder._resolve import Target


class VenvError(Exception):
    """The interpreter could not be asked, or a venv not made: the message says why."""


def _is_running(python: Path) -> bool:
    """Whether ``python`` is the interpreter running the builder (a venv's counts as its
    base: a venv is made from the base either way)."""
    ours = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(python) in {os.path.realpath(ours), os.path.realpath(sys.executable)}


def _run(what: str, cmd: list[str]) -> str:
    """Run ``cmd``; its output, or VenvError saying the last line of what it said."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, preexec_fn=die_with_parent
        )
    except OSError as exc:  # e.g. the interpreter does not exist
        raise VenvError(f"`{cmd[0]}`: {exc}") from exc
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)  # all of it for the log; its last line for the message
        said = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        raise VenvError(f"{what} exited {proc.returncode}: {said[-1] if said else 'no message'}")
    return proc.stdout


@dataclass(frozen=True)
class Interpreter:
    """One interpreter, as installing into its venvs needs it."""

    python: Path
    target: Target
    cache_tag: str | None
    paths: dict[str, str]  # purelib, platlib, scripts, data, below _describe.PREFIX

    @classmethod
    @functools.cache
    def of(cls, python: Path) -> Interpreter:
        """``python``'s facts, asked once per builder: the build envs' and the target venv's
        interpreter are one."""
        if _is_running(python):
            said = _describe.describe()
        else:
            root = str(Path(packaging.__file__).resolve().parent.parent)
            cmd = [str(python), "-I", _describe.__file__, root]
            out = _run(f"asking {python} for its tags", cmd)
            try:
                said = json.loads(out)
            except ValueError:  # e.g. a sitecustomize that prints
                raise VenvError(
                    f"{python} did not answer what it is (its output: {out[:200]!r})"
                ) from None
        try:
            paths = {name: str(path) for name, path in said["paths"].items()}
            markers = {name: str(value) for name, value in said["markers"].items()}
            tags, cache_tag = tuple(said["tags"]), said["cache_tag"]
        except (KeyError, TypeError, AttributeError):
            raise VenvError(
                f"{python} did not answer what it is (it said: {said!r:.200})"
            ) from None
        if not all(path.startswith(_describe.PREFIX) for path in paths.values()):
            raise VenvError(f"{python}'s venvs install outside the venv: {paths}")
        return cls(python, Target(markers, tags), cache_tag, paths)

    def scheme(self, venv_dir: Path, distribution: str) -> dict[str, str]:
        """``installer``'s scheme for ``distribution`` in ``venv_dir``, as pip's: headers go
        below the venv, not into the interpreter's own include directory."""
        prefix = _describe.PREFIX
        scheme = {name: path.replace(prefix, str(venv_dir), 1) for name, path in self.paths.items()}
        version = self.target.markers["python_version"]
        headers = venv_dir / "include" / "site" / f"python{version}" / distribution
        return scheme | {"headers": str(headers)}

    def create(self, venv_dir: Path) -> None:
        create(venv_dir, self.python, activate=False)


class _Builder(venv.EnvBuilder):
    def __init__(self, activate: bool) -> None:
        super().__init__(symlinks=os.name != "nt", with_pip=False)
        self._activate = activate

    def setup_scripts(self, context: SimpleNamespace) -> None:
        if self._activate:
            super().setup_scripts(context)


def create(venv_dir: Path, python: Path, *, activate: bool = True) -> None:
    """Make a venv of ``python`` without pip at ``venv_dir``, as ``python -m venv
    --without-pip`` does; ``activate=False``: without its activation scripts (a build env,
    which nobody activates)."""
    if not _is_running(python):
        _run("venv", [str(python), "-m", "venv", "--without-pip", str(venv_dir)])
        return
    try:
        _Builder(activate).create(venv_dir)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:  # ValueError: a bad path
        raise VenvError(f"venv: {exc}") from exc
