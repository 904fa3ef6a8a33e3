"""Installing the editable wheel into the target venv with ``installer``, then proving that
the package imports there."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES

from lab.refbuilder import _venvs
from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import InstallError


def ensure_venv(venv: Path, python: Path) -> _venvs.Interpreter | None:
    """Make the venv where there is none; its interpreter where we made it (of one we did
    not make, its own interpreter is asked what its install scheme is)."""
    if (venv / "bin" / "python").exists():
        return None
    try:
        _venvs.create(venv, python)
        return _venvs.Interpreter.of(python)
    except _venvs.VenvError as exc:
        raise InstallError(f"cannot create the venv {venv}: {exc}") from exc


def install_wheel(wheel: Path, venv: Path, made_by: _venvs.Interpreter | None = None) -> None:
    """Install ``wheel`` into ``venv``, which ``made_by`` made (None: not known)."""
    try:
        with WheelFile.open(wheel) as source:
            if made_by is not None:
                scheme = made_by.scheme(venv, source.distribution)
            else:
                scheme = _scheme_of(venv)
            destination = SchemeDictionaryDestination(
                scheme,
                interpreter=str(venv / "bin" / "python"),
                script_kind="posix",
                overwrite_existing=True,  # a reinstall, as `uv sync --reinstall`
            )
            install(source, destination, {"INSTALLER": b"cachelab\n"})
    except InstallError:
        raise
    except Exception as exc:  # installer raises several kinds; all mean the same here
        raise InstallError(f"installing {wheel} into {venv} failed: {exc}") from exc


def _scheme_of(venv: Path) -> dict[str, str]:
    """The install scheme of ``venv``, as its own interpreter says."""
    query = "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", query],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=die_with_parent,
    )
    if proc.returncode != 0:
        raise InstallError(f"cannot read the install scheme of {venv}: {proc.stderr.strip()}")
    paths = json.loads(proc.stdout)
    # sysconfig names the headers directory "include"
    return {name: paths["include" if name == "headers" else name] for name in SCHEME_NAMES}


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
