"""The corpus of real projects: popular sdists from PyPI, pinned in ``scenarios/real/`` (one
small TOML file each: name, version, sha256, what its build is), downloaded by
``cachelab setup --real`` into the toolchain (``.lab/real/``, never committed) and checked
against their digests, then run by ``make real`` as any ``--project`` is.

A pin whose project does not build offline here says why in ``skip``; setup and ``make real``
pass it by, saying so.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lab import data
from lab.errors import ToolchainError, UsageError
from lab.log import log

REAL_DIR = "real"  # under the lab's scenarios/, and under the toolchain's root
_FIELDS = {"name", "version", "sha256", "build", "skip"}


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str
    build: str  # what builds it, for people: "hatchling + hatch-vcs"
    skip: str | None = None  # why it does not build offline here, where it does not

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def _pin(path: Path) -> Pin:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not readable TOML: {exc}") from None
    unknown = sorted(set(raw) - _FIELDS)
    lacking = sorted({"name", "version", "sha256", "build"} - set(raw))
    if unknown or lacking:
        raise UsageError(f"{path}: fields {unknown or lacking}: a pin has {sorted(_FIELDS)}")
    return Pin(**{k: str(v) for k, v in raw.items()})


def pins(directory: Path | None = None) -> list[Pin]:
    """Every pin of the corpus, by name."""
    where = directory or data.scenarios_dir() / REAL_DIR
    return sorted((_pin(p) for p in where.glob("*.toml")), key=lambda p: p.name)


def sdist_path(root: Path, pin: Pin) -> Path:
    """Where setup keeps ``pin``'s sdist in the toolchain at ``root``."""
    return root / REAL_DIR / f"{pin.name}-{pin.version}.tar.gz"


def downloaded(root: Path, pin: Pin) -> Path:
    """``pin``'s sdist in the toolchain at ``root``; UsageError where setup has not fetched it."""
    sdist = sdist_path(root, pin)
    if not sdist.is_file():
        raise UsageError(f"{sdist}: the corpus is not downloaded; run `cachelab setup --real`")
    return sdist


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(root: Path, pin: Pin) -> Path:
    """``pin``'s sdist in the toolchain, downloaded with pip once and checked."""
    dest = sdist_path(root, pin)
    if dest.is_file() and _sha256(dest) == pin.sha256:
        return dest
    log(f"downloading the sdist of {pin.label}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".download-") as scratch:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "download",
            "--no-deps",
            "--no-binary",
            pin.name,
            "--dest",
            scratch,
            f"{pin.name}=={pin.version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = sorted(Path(scratch).glob("*.tar.gz"))
        if proc.returncode != 0 or len(found) != 1:
            tail = (proc.stderr.strip().splitlines() or ["no sdist"])[-1]
            raise ToolchainError(f"the sdist of {pin.label} could not be downloaded: {tail}")
        got = _sha256(found[0])
        if got != pin.sha256:
            raise ToolchainError(
                f"the sdist of {pin.label} has sha256 {got}, its pin says {pin.sha256}"
            )
        found[0].rename(dest)
    return dest


def fetch_all(root: Path) -> list[Path]:
    """Every pin's sdist that builds here, downloaded; the others said and passed by."""
    found = []
    for pin in pins():
        if pin.skip:
            log(f"{pin.label}: not in the corpus runs here: {pin.skip}")
            continue
        found.append(fetch(root, pin))
    return found
