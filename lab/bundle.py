"""The reference builder as a directory that any runner's Python can run: ``python -S DIR``.

The directory holds exactly what goes into a runner: the builder, the contract, the package
marker, and the builder's dependencies installed from the offline wheelhouse, plus a
``__main__.py``. ``-S`` keeps the runner's own site-packages out, so the builder imports
nothing it did not declare (the isolation test runs it the same way). Bundles are named by a
digest of their inputs and never change once made, so a run may keep using one while a newer
one appears.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES

from lab.errors import ToolchainError

LAB_DIR = Path(__file__).resolve().parent
_MAIN = '''"""Run the reference builder from this directory: python -S <this directory> ARGS."""

import sys

from lab.refbuilder._cli import main

sys.exit(main())
'''
_KEEP = 3  # older bundles kept beside the newest, for runs that may still use them


def sources() -> list[Path]:
    """The lab's files a runner gets: the package marker, the contract and the builder."""
    return [
        LAB_DIR / "__init__.py",
        LAB_DIR / "contract.py",
        *sorted((LAB_DIR / "refbuilder").glob("*.py")),
    ]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def wheels(wheelhouse: Path, requirements: Sequence[str]) -> list[Path]:
    """One wheel per requirement (names only: the wheelhouse holds one version of each)."""
    found = {_normalized(w.name.split("-")[0]): w for w in sorted(wheelhouse.glob("*.whl"))}
    missing = [r for r in requirements if _normalized(r) not in found]
    if missing:
        raise ToolchainError(
            f"the wheelhouse {wheelhouse} lacks {missing}: run `make setup` (or `cachelab setup`)"
        )
    return [found[_normalized(r)] for r in requirements]


def _digest(wheel_files: Sequence[Path]) -> str:
    h = hashlib.sha256(_MAIN.encode())
    for wheel in wheel_files:
        h.update(wheel.name.encode() + b"\0")
    for path in sources():
        h.update(path.relative_to(LAB_DIR.parent).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build(dest: Path, wheel_files: Sequence[Path]) -> None:
    """Fill the new directory ``dest`` with the builder, its dependencies and a main."""
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="cachelab-bundle-") as unused:
        # Only the importable part is wanted: scripts, headers and data go to a throwaway dir.
        scheme = {name: unused for name in SCHEME_NAMES} | {
            "purelib": str(dest),
            "platlib": str(dest),
        }
        destination = SchemeDictionaryDestination(
            scheme, interpreter="python3", script_kind="posix"
        )
        for wheel in wheel_files:
            with WheelFile.open(wheel) as source:
                install(source, destination, {"INSTALLER": b"cachelab\n"})
    for path in sources():
        target = dest / path.relative_to(LAB_DIR.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    (dest / "__main__.py").write_text(_MAIN)
    # Byte code now: runners mount the bundle read-only and would recompile on every start.
    compileall.compile_dir(dest, quiet=1, workers=0)


def ensure(root: Path, wheelhouse: Path, requirements: Sequence[str]) -> Path:
    """The bundle for the current sources and wheels under ``root``, made if missing."""
    wheel_files = wheels(wheelhouse, requirements)
    final = root / _digest(wheel_files)
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        build(staging, wheel_files)
        try:
            staging.rename(final)
        except OSError:  # another process made the same bundle first: identical, keep theirs
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(root, keep=final)
    return final


def _prune(root: Path, keep: Path) -> None:
    bundles = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    old = sorted((p for p in bundles if p != keep), key=lambda p: p.stat().st_mtime)
    for path in old[: max(0, len(old) - _KEEP)]:
        shutil.rmtree(path, ignore_errors=True)
