"""One cold build: a private copy of a tree, its editable wheel built by pypa/build in an env
of its build requirements (``_envs``), installed by pypa/installer into a scratch prefix
(``Install``), which the oracle keeps, and describes with ``lab.projects.installed`` (the
probe's describer) for whoever asks, with the copy's path and the asker's view of the
checkout as ``{checkout}``.

Every failure of a step comes out as one ``OracleError``, as pypa/build's own errors do: one
line naming the tree, the step (the hook) and the backend, and the backend's last lines of
output as its detail.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tomllib
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import build
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES

from lab.oracle import _tree
from lab.oracle._envs import Envs, interpreter
from lab.oracle._errors import OracleError
from lab.projects import installed

_HOOK_TIMEOUT_S = 1800
_TAIL = 15  # lines of the backend's output an error carries
# What a failing step raises: pypa/build's errors (the backend's wrapped), installer's, a wheel
# that is no zip, a file that cannot be read or written.
_FAILURES = (
    build.BuildException,
    build.BuildBackendException,
    InstallerError,
    zipfile.BadZipFile,
    OSError,
    ValueError,
)


@dataclass
class _Runner:
    """pyproject-hooks' runner: the hook in the oracle's environment (``_envs.environment``)
    with its env's scripts first on PATH and its build's own TMPDIR; its output kept for
    errors."""

    environ: Mapping[str, str]
    tmp: Path
    lines: list[str] = field(default_factory=list)

    def __call__(
        self,
        cmd: Sequence[str],
        cwd: str | None = None,
        extra_environ: Mapping[str, str] | None = None,
    ) -> None:
        env = {**self.environ, **(extra_environ or {}), "TMPDIR": str(self.tmp)}
        # the env's scripts first, as in a venv: backends run their own (maturin, cmake)
        env["PATH"] = os.pathsep.join([str(Path(cmd[0]).parent), env["PATH"]])
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=_HOOK_TIMEOUT_S,
            check=False,
        )
        self.lines += proc.stdout.splitlines()
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, list(cmd), proc.stdout)


def _backend(source: Path) -> str:
    try:
        table = tomllib.loads((source / "pyproject.toml").read_text()).get("build-system", {})
    except (OSError, tomllib.TOMLDecodeError):
        table = {}
    return str(table.get("build-backend", "setuptools.build_meta:__legacy__"))


@contextlib.contextmanager
def _hook(tree: Path, hook: str, source: Path, runner: _Runner) -> Iterator[None]:
    """Where every failure of a build step becomes one error with its context."""
    try:
        yield
    except _FAILURES as exc:
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise OracleError(
            f"the oracle's cold build of {tree} failed in {hook} (backend "
            f"{_backend(source)}): {said}",
            "\n".join(runner.lines[-_TAIL:]),
        ) from exc


def _wheel(tree: Path, source: Path, envs: Envs, outdir: Path, runner: _Runner) -> Path:
    """The editable wheel of ``source`` (a copy of ``tree``), built cold."""
    with _hook(tree, "build-system requires", source, runner):
        requires = build.ProjectBuilder(source).build_system_requires
        python = envs.python_of(requires)
    with _hook(tree, "get_requires_for_build_editable", source, runner):
        builder = build.ProjectBuilder(source, python_executable=str(python), runner=runner)
        extra = builder.get_requires_for_build("editable")
    if not extra <= requires:  # the backend's own, beside build-system.requires
        python = envs.python_of(requires | extra)
        builder = build.ProjectBuilder(source, python_executable=str(python), runner=runner)
    with _hook(tree, "build_editable", source, runner):
        return Path(builder.build("editable", outdir))


def _scheme(prefix: Path, python: Path) -> dict[str, str]:
    paths = interpreter(python)["paths"]
    assert isinstance(paths, dict)
    return {
        name: str(paths[name]).replace("/@prefix@", str(prefix))
        for name in SCHEME_NAMES
        if name in paths
    }


@dataclass(frozen=True)
class Install:
    """One cold build's install, kept under ``prefix`` to be described again for whoever asks:
    what it names of its checkout is the copy's path (``copy``: as the build saw it, and
    resolved), written ``{checkout}`` with the asker's view of the checkout."""

    prefix: Path
    scheme: Mapping[str, str]  # purelib, platlib, scripts: relative to the prefix
    name: str  # the distribution, as its wheel's file name says it
    copy: tuple[str, ...]

    def moved(self, prefix: Path) -> Install:
        """This install, its prefix moved to ``prefix`` (the scheme is relative to it)."""
        return Install(prefix, self.scheme, self.name, self.copy)

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": dict(self.scheme), "name": self.name, "copy": list(self.copy)}

    @classmethod
    def from_dict(cls, prefix: Path, data: Mapping[str, Any]) -> Install:
        return cls(prefix, dict(data["scheme"]), str(data["name"]), tuple(data["copy"]))

    def describe(self, checkout: str | None = None) -> dict[str, Any]:
        """What is installed, the copy's path and ``checkout`` (where a runner sees the tree)
        written ``{checkout}``."""
        sites = [self.prefix / self.scheme["purelib"], self.prefix / self.scheme["platlib"]]
        also = [*self.copy[1:], *([checkout] if checkout else [])]
        scripts = self.prefix / self.scheme["scripts"]
        return installed.describe(sites, scripts, self.name, self.copy[0], also=also)


def cold_install(tree: Path, scratch: Path, envs: Envs, environ: Mapping[str, str]) -> Install:
    """A cold build of ``tree``, installed in ``scratch / "prefix"`` (``scratch`` is new, the
    caller's to remove) with its hooks in ``environ``: the copy keeps the tree's directory
    name."""
    source = scratch / (tree.name or "tree")
    _tree.copy(tree, source)
    (scratch / "tmp").mkdir()
    runner = _Runner(environ, scratch / "tmp")
    wheel = _wheel(tree, source, envs, scratch / "dist", runner)
    prefix = scratch / "prefix"
    scheme = _scheme(prefix, envs.python)
    with _hook(tree, "install (pypa/installer)", source, runner):
        destination = SchemeDictionaryDestination(
            scheme, interpreter=str(envs.python), script_kind="posix"
        )
        with WheelFile.open(wheel) as whl:
            install(whl, destination, {"INSTALLER": b"cachelab-oracle\n"})
    relative = {k: os.path.relpath(scheme[k], prefix) for k in ("purelib", "platlib", "scripts")}
    copy = tuple(dict.fromkeys([str(source), os.path.realpath(source)]))
    return Install(prefix, relative, wheel.name.split("-")[0], copy)
