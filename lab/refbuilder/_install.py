"""Installing the editable wheel into the target venv with ``installer``, then proving that
the package imports there."""

from __future__ import annotations

import subprocess
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from lab.refbuilder import _venvs
from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import InstallError


def ensure_venv(venv: Path, python: Path) -> None:
    if (venv / "bin" / "python").exists():
        return
    try:
        _venvs.create(venv, python)
    except _venvs.VenvError as exc:
        raise InstallError(f"cannot create the venv {venv}: {exc}") from exc


def install_wheel(wheel: Path, venv: Path) -> None:
    """Install ``wheel`` into ``venv`` in the install scheme of the venv's interpreter."""
    interpreter = venv / "bin" / "python"
    try:
        facts = _venvs.Interpreter.of(interpreter)
    except _venvs.VenvError as exc:
        raise InstallError(f"cannot read the install scheme of {venv}: {exc}") from exc
    try:
        with WheelFile.open(wheel) as source:
            destination = SchemeDictionaryDestination(
                facts.scheme(venv, source.distribution),
                interpreter=str(interpreter),
                script_kind="posix",
                overwrite_existing=True,  # a reinstall, as `uv sync --reinstall`
            )
            install(source, destination, {"INSTALLER": b"cachelab\n"})
    except Exception as exc:  # installer raises several kinds; all mean the same here
        raise InstallError(f"installing {wheel} into {venv} failed: {exc}") from exc


def check_import(venv: Path, module: str) -> str:
    """Import ``module`` in the venv; return where it came from."""
    code = f"import {module}; print({module}.__file__)"
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=die_with_parent,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise InstallError(f"`import {module}` fails in {venv}: {tail[0]}")
    return proc.stdout.strip()
