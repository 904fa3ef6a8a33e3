"""The offline toolchain under ``.lab/``: what the host hands runners as named resources.

Runners have no network, so everything a build needs comes from here, each a read-only
directory known by name:

    wheelhouse     every wheel a runner may install offline       .lab/wheelhouse
    uv-<version>   a uv release (bin/uv): pinned, or added by     .lab/uv/<version>
                   `cachelab setup --uv-version X`
    refbuilder     the reference builder, run as python -I -S DIR  .lab/refbuilder/<digest>
    probe          the facts probe, run the same way              .lab/probe/<digest>
    crates         vendored crates for offline cargo builds       .lab/vendor

``ensure`` is idempotent: it records a digest of its inputs and redoes nothing while they are
unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lab import bundle, template
from lab.errors import ToolchainError
from lab.resources import CRATES, UV_PREFIX, WHEELHOUSE

# The seed's version and the newest one checked here; their lock log formats differ.
UV_VERSIONS: tuple[str, ...] = ("0.8.12", "0.13.9")
DEFAULT_UV_VERSION = "0.13.9"
# pip as a subject
PIP_VERSION = "26.3"


_INPUTS_FILE = ".inputs.json"


@dataclass(frozen=True)
class Toolchain:
    root: Path

    @property
    def wheelhouse(self) -> Path:
        return self.root / "wheelhouse"

    @property
    def vendor(self) -> Path:
        """Crates for offline cargo builds, from the templates' Cargo.lock files."""
        return self.root / "vendor"

    def uv_dir(self, version: str) -> Path:
        return self.root / "uv" / version

    def uv_binary(self, version: str) -> Path:
        return self.uv_dir(version) / "bin" / "uv"

    def resource(self, name: str) -> Path:
        """The host directory of resource ``name``; ToolchainError says what to run where it
        is missing. The reference builder's bundle is (re)made here when its sources
        changed: it needs nothing but the wheelhouse."""
        hint = "run `make setup` (or `cachelab setup`) while the package registry is reachable"
        if not (self.wheelhouse / _INPUTS_FILE).is_file():
            raise ToolchainError(f"no offline wheelhouse at {self.wheelhouse}: {hint}")
        if name == WHEELHOUSE:
            return self.wheelhouse
        if name in bundle.BUNDLES:
            return bundle.ensure(bundle.BUNDLES[name], self.root / name, self.wheelhouse)
        if name == CRATES:
            if not (self.vendor / _INPUTS_FILE).is_file():
                raise ToolchainError(
                    f"no vendored crates at {self.vendor}: {hint}, with cargo on PATH"
                )
            return self.vendor
        if name.startswith(UV_PREFIX):
            version = name.removeprefix(UV_PREFIX)
            if not self.uv_binary(version).is_file():
                add = f"`cachelab setup --uv-version {version}`"
                how = hint if version in UV_VERSIONS else f"run {add} while PyPI is reachable"
                raise ToolchainError(
                    f"uv {version} is not installed at {self.uv_binary(version)}: {how}"
                )
            return self.uv_dir(version)
        raise ToolchainError(f"no resource named {name!r} in the toolchain at {self.root}")


def wheelhouse_requirements() -> list[str]:
    """Everything runners may need offline: the templates' backends, the builder's
    dependencies and the pinned uv."""
    reqs = {req for t in template.available().values() for req in t.wheelhouse}
    reqs.update(r for b in bundle.BUNDLES.values() for r in b.requirements)
    reqs.discard("pip")
    reqs.add(f"pip=={PIP_VERSION}")
    return sorted(reqs) + [f"uv=={v}" for v in UV_VERSIONS]


def _digest(requirements: list[str]) -> str:
    payload = json.dumps({"requirements": requirements, "python": sys.version_info[:2]})
    return hashlib.sha256(payload.encode()).hexdigest()


def _cargo_lockfiles() -> list[Path]:
    return [t.project_dir / "Cargo.lock" for t in template.available().values() if t.vendor_crates]


def _vendor_crates(tc: Toolchain, log: Callable[[str], None]) -> None:
    """`cargo vendor` every template's locked crates into one directory, once per change."""
    lockfiles = _cargo_lockfiles()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in lockfiles)).hexdigest()
    stamp = tc.vendor / _INPUTS_FILE
    if stamp.is_file() and json.loads(stamp.read_text()).get("digest") == digest:
        return
    if lockfiles and shutil.which("cargo") is None:
        names = ", ".join(p.parent.parent.name for p in lockfiles)
        log(
            f"cargo is not on PATH: the crates of template(s) {names} are not vendored, so those "
            "templates cannot build until `make setup` runs where cargo is"
        )
        return
    log(f"vendoring the crates of {len(lockfiles)} template(s) into {tc.vendor}")
    with _staged(tc.vendor) as staging:
        staging.mkdir()
        for lockfile in lockfiles:
            cmd = [
                "cargo",
                "vendor",
                "--locked",
                "--versioned-dirs",
                "--manifest-path",
                str(lockfile.with_name("Cargo.toml")),
                str(staging),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise ToolchainError(
                    f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
                )
        (staging / _INPUTS_FILE).write_text(json.dumps({"digest": digest}))


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolchainError(
            f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A directory beside ``target`` that replaces it only if the block completes, so an
    interrupted setup never leaves a half-filled wheelhouse or tool directory."""
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure(root: Path, log: Callable[[str], None] = print) -> Toolchain:
    """Build the wheelhouse and install the pinned uv versions, unless already done."""
    tc = Toolchain(root)
    requirements = wheelhouse_requirements()
    digest = _digest(requirements)
    inputs = tc.wheelhouse / _INPUTS_FILE
    current = json.loads(inputs.read_text())["digest"] if inputs.is_file() else None
    if current != digest:
        log(f"building the offline wheelhouse in {tc.wheelhouse}")
        with _staged(tc.wheelhouse) as staging:
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
        for version in UV_VERSIONS:  # reinstalled from the new wheelhouse
            shutil.rmtree(tc.uv_dir(version), ignore_errors=True)
    for version in UV_VERSIONS:
        if tc.uv_binary(version).is_file():
            continue
        log(f"installing uv {version} from the wheelhouse")
        with _staged(tc.uv_dir(version)) as staging:
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
    _vendor_crates(tc, log)
    for name in bundle.BUNDLES:
        tc.resource(name)  # made now, so that runs find them ready
    return tc


def add_uv(tc: Toolchain, version: str, log: Callable[[str], None] = print) -> Path:
    """Install uv ``version`` from the package registry beside the pinned ones (once), so
    that ``uv@VERSION`` works as a subject; its binary's path."""
    if tc.uv_binary(version).is_file():
        return tc.uv_binary(version)
    log(f"installing uv {version} from the package registry into {tc.uv_dir(version)}")
    with _staged(tc.uv_dir(version)) as staging:
        _pip(
            "install",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(staging),
            f"uv=={version}",
        )
    return tc.uv_binary(version)
