"""The offline toolchain under ``.lab/``: a wheelhouse and the pinned uv binaries.

Runners have no network, so everything a build needs comes from here. ``ensure`` is idempotent:
it records a digest of its inputs and redoes nothing while they are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import template
from lab.errors import ToolchainError

# The seed's version and the newest one checked here; their lock log formats differ.
UV_VERSIONS: tuple[str, ...] = ("0.8.12", "0.13.9")
DEFAULT_UV_VERSION = "0.13.9"
# What lab.builder imports; installed into runner images from the wheelhouse.
BUILDER_REQUIREMENTS: tuple[str, ...] = ("filelock", "installer", "packaging", "pyproject-hooks")

_INPUTS_FILE = ".inputs.json"


@dataclass(frozen=True)
class Toolchain:
    root: Path

    @property
    def wheelhouse(self) -> Path:
        return self.root / "wheelhouse"

    def uv_dir(self, version: str) -> Path:
        return self.root / "uv" / version

    def uv_binary(self, version: str) -> Path:
        return self.uv_dir(version) / "bin" / "uv"

    def check(self, uv_version: str | None = None) -> None:
        """Raise ToolchainError unless the wheelhouse (and that uv) are in place."""
        hint = "run `make setup` (or `cachelab setup`) while the package registry is reachable"
        if not (self.wheelhouse / _INPUTS_FILE).is_file():
            raise ToolchainError(f"no offline wheelhouse at {self.wheelhouse}: {hint}")
        if uv_version is not None and not self.uv_binary(uv_version).is_file():
            raise ToolchainError(
                f"uv {uv_version} is not installed at {self.uv_binary(uv_version)}: {hint}"
            )


def wheelhouse_requirements() -> list[str]:
    """Everything runners may need offline: the templates' backends, the builder's
    dependencies and the pinned uv."""
    reqs = {req for t in template.available().values() for req in t.wheelhouse}
    reqs.update(BUILDER_REQUIREMENTS)
    return sorted(reqs) + [f"uv=={v}" for v in UV_VERSIONS]


def _digest(requirements: list[str]) -> str:
    payload = json.dumps({"requirements": requirements, "python": sys.version_info[:2]})
    return hashlib.sha256(payload.encode()).hexdigest()


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolchainError(
            f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )


def ensure(root: Path, log: Callable[[str], None] = print) -> Toolchain:
    """Build the wheelhouse and install the pinned uv versions, unless already done."""
    tc = Toolchain(root)
    requirements = wheelhouse_requirements()
    digest = _digest(requirements)
    inputs = tc.wheelhouse / _INPUTS_FILE
    current = json.loads(inputs.read_text())["digest"] if inputs.is_file() else None
    if current != digest:
        log(f"building the offline wheelhouse in {tc.wheelhouse}")
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f"wheelhouse.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            backends = [r for r in requirements if not r.startswith("uv==")]
            _pip("download", "--only-binary=:all:", "--dest", str(staging), *backends)
            for req in requirements:
                if req.startswith("uv=="):  # uv has no dependencies; one binary wheel each
                    _pip(
                        "download", "--only-binary=:all:", "--no-deps", "--dest", str(staging), req
                    )
            (staging / _INPUTS_FILE).write_text(
                json.dumps({"digest": digest, "requirements": requirements}, indent=2)
            )
            shutil.rmtree(tc.wheelhouse, ignore_errors=True)
            staging.rename(tc.wheelhouse)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(root / "uv", ignore_errors=True)  # reinstalled from the new wheelhouse
    for version in UV_VERSIONS:
        if tc.uv_binary(version).is_file():
            continue
        log(f"installing uv {version} from the wheelhouse")
        target = tc.uv_dir(version)
        staging = target.with_name(f"{version}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _pip(
                "install",
                "--no-index",
                "--no-deps",
                "--find-links",
                str(tc.wheelhouse),
                "--target",
                str(staging),
                f"uv=={version}",
            )
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return tc
