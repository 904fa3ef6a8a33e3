"""Directories of the lab's own code that any runner's Python can run: ``python -I -S DIR``.

A bundle holds exactly what goes into a runner: a few of the lab's modules (always the package
marker and the contract), the dependencies they declare, installed from the offline
wheelhouse, and a ``__main__.py``. ``-S`` keeps the runner's own site-packages out, so a
bundle imports nothing it did not declare (the isolation tests run them the same way).
Bundles are named by a digest of their inputs and never change once made, so a run may keep
using one while a newer one appears.

- ``refbuilder``: the reference builder (``lab.refbuilder``), with filelock, installer,
  packaging and pyproject-hooks;
- ``probe``: the facts probe (``lab.probe``) and its describer of an install
  (``lab.projects.installed``), standard library only.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES

from lab import resources
from lab.errors import ToolchainError

LAB_DIR = Path(__file__).resolve().parent.parent  # lab/
# Older bundles are removed once a newer one is made, but only after a day: a run that was
# started with one may still be using it.
_KEEP_S = 24 * 3600


@dataclass(frozen=True)
class Bundle:
    name: str
    modules: tuple[str, ...]  # paths below lab/: files, or directories of .py files
    requirements: tuple[str, ...]  # distributions from the wheelhouse
    main: str  # the module whose main() runs

    def sources(self) -> list[Path]:
        """The lab's files this bundle carries."""
        found = [LAB_DIR / "__init__.py", LAB_DIR / "contract.py"]
        for module in self.modules:
            path = LAB_DIR / module
            found += sorted(path.glob("*.py")) if path.is_dir() else [path]
        return found

    def main_text(self) -> str:
        return (
            f'"""Run {self.main} from this directory: python -I -S <this directory> ARGS."""\n\n'
            f"import os\nimport sys\n\nfrom {self.main} import main\n\ncode = main()\n"
            "for stream in (sys.stdout, sys.stderr):\n    stream.flush()\n"
            "# Done: every file is closed and every lock let go. The interpreter's teardown of\n"
            "# some 250 modules would add about 12 ms to the end of a runner in a container.\n"
            "os._exit(code)\n"
        )


REFBUILDER = Bundle(
    resources.REFBUILDER,
    modules=("refbuilder",),
    # build environments need no pip: it resolves with packaging and installs with installer
    requirements=("filelock", "installer", "packaging", "pyproject-hooks"),
    main="lab.refbuilder._cli",
)
PROBE = Bundle(
    resources.PROBE,
    modules=("probe.py", "projects/__init__.py", "projects/installed.py"),
    requirements=(),
    main="lab.probe",
)
BUNDLES = {b.name: b for b in (REFBUILDER, PROBE)}


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


def _digest(bundle: Bundle, wheel_files: Sequence[Path]) -> str:
    h = hashlib.sha256(bundle.main_text().encode())
    for wheel in wheel_files:
        h.update(wheel.name.encode() + b"\0")
    for path in bundle.sources():
        h.update(path.relative_to(LAB_DIR.parent).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build(bundle: Bundle, dest: Path, wheel_files: Sequence[Path]) -> None:
    """Fill the new directory ``dest`` with the bundle's modules, dependencies and main."""
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
    for path in bundle.sources():
        target = dest / path.relative_to(LAB_DIR.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    (dest / "__main__.py").write_text(bundle.main_text())
    # Byte code now: runners mount the bundle read-only and would recompile on every start.
    compileall.compile_dir(dest, quiet=1, workers=0)


def ensure(bundle: Bundle, root: Path, wheelhouse: Path) -> Path:
    """The bundle for the current sources and wheels below ``root``, made if missing."""
    wheel_files = wheels(wheelhouse, bundle.requirements)
    final = root / _digest(bundle, wheel_files)
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        build(bundle, staging, wheel_files)
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
    for path in root.iterdir():
        if path == keep or path.name.startswith(".") or not path.is_dir():
            continue
        if time.time() - path.stat().st_mtime > _KEEP_S:
            shutil.rmtree(path, ignore_errors=True)
