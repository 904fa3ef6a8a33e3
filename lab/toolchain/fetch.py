"""What ``cachelab setup`` fetches while the package registries are reachable, so that every
run after it is offline: the wheelhouse, the pinned uv releases (and any other asked for),
the templates' vendored crates and the lab's own bundles. Each part is made beside its place
and moved in whole, and redone only when its inputs change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from lab.errors import ToolchainError
from lab.log import log
from lab.projects import template
from lab.resources import BUILD_PLUGINS, PIP_VERSION, UV_VERSIONS
from lab.toolchain import INPUTS_FILE, Toolchain, bundle
from lab.toolchain.extras import CRATES_DIR, Extras


def wheelhouse_requirements(root: Path | None = None) -> list[str]:
    """Everything runners may need offline: the templates' backends, the build plugins
    the lab keeps, the builder's dependencies, the pinned uv, and what projects set up in
    the toolchain at ``root`` added (``extras``)."""
    reqs = {req for t in template.available().values() for req in t.wheelhouse}
    reqs.update(BUILD_PLUGINS)
    if root is not None:
        reqs.update(Extras.load(root).requirements)
    reqs.update(r for b in bundle.BUNDLES.values() for r in b.requirements)
    reqs.discard("pip")
    reqs.add(f"pip=={PIP_VERSION}")
    return sorted(reqs) + [f"uv=={v}" for v in UV_VERSIONS]


def _digest(requirements: list[str]) -> str:
    payload = json.dumps({"requirements": requirements, "python": sys.version_info[:2]})
    return hashlib.sha256(payload.encode()).hexdigest()


def _cargo_lockfiles() -> list[Path]:
    return [t.project_dir / "Cargo.lock" for t in template.available().values() if t.vendor_crates]


def _vendor_crates(toolchain: Toolchain) -> None:
    """`cargo vendor` every template's locked crates into one directory, with the crates set-up
    projects had vendored (``extras.CRATES_DIR``), once per change."""
    lockfiles = _cargo_lockfiles()
    extra = sorted(p for p in (toolchain.root / CRATES_DIR).glob("*") if p.is_dir())
    extra_names = "".join(p.name for p in extra).encode()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in lockfiles) + extra_names).hexdigest()
    stamp = toolchain.vendor / INPUTS_FILE
    if stamp.is_file() and json.loads(stamp.read_text()).get("digest") == digest:
        return
    if lockfiles and shutil.which("cargo") is None:
        names = ", ".join(p.parent.parent.name for p in lockfiles)
        log(
            f"cargo is not on PATH: the crates of template(s) {names} are not vendored, so those "
            "templates cannot build until `make setup` runs where cargo is"
        )
        return
    log(f"vendoring the crates of {len(lockfiles)} template(s) into {toolchain.vendor}")
    with _staged(toolchain.vendor) as staging:
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
        for crates in extra:  # a crate's directory is named by its version: one content
            for crate in crates.iterdir():
                if not (staging / crate.name).exists():
                    shutil.copytree(crate, staging / crate.name, symlinks=True)
        (staging / INPUTS_FILE).write_text(json.dumps({"digest": digest}))


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


def _seed(staging: Path, wheelhouse: Path) -> None:
    """The wheels the wheelhouse has, linked into ``staging``: pip downloads only the rest."""
    staging.mkdir()
    for wheel in wheelhouse.glob("*.whl") if wheelhouse.is_dir() else ():
        os.link(wheel, staging / wheel.name)


def ensure(root: Path) -> Toolchain:
    """Build the wheelhouse and install the pinned uv versions, unless already done."""
    toolchain = Toolchain(root)
    requirements = wheelhouse_requirements(root)
    digest = _digest(requirements)
    inputs = toolchain.wheelhouse / INPUTS_FILE
    current = json.loads(inputs.read_text())["digest"] if inputs.is_file() else None
    if current != digest:
        log(f"building the offline wheelhouse in {toolchain.wheelhouse}")
        with _staged(toolchain.wheelhouse) as staging:
            _seed(staging, toolchain.wheelhouse)
            backends = [r for r in requirements if not r.startswith("uv==")]
            _pip("download", "--only-binary=:all:", "--dest", str(staging), *backends)
            for req in requirements:
                if req.startswith("uv=="):  # uv has no dependencies; one binary wheel each
                    _pip(
                        "download", "--only-binary=:all:", "--no-deps", "--dest", str(staging), req
                    )
            (staging / INPUTS_FILE).write_text(
                json.dumps({"digest": digest, "requirements": requirements}, indent=2)
            )
        for version in UV_VERSIONS:  # reinstalled from the new wheelhouse
            shutil.rmtree(toolchain.uv_dir(version), ignore_errors=True)
    for version in UV_VERSIONS:
        if toolchain.uv_binary(version).is_file():
            continue
        log(f"installing uv {version} from the wheelhouse")
        with _staged(toolchain.uv_dir(version)) as staging:
            _pip(
                "install",
                "--no-index",
                "--no-deps",
                "--find-links",
                str(toolchain.wheelhouse),
                "--target",
                str(staging),
                f"uv=={version}",
            )
    _vendor_crates(toolchain)
    for name in bundle.BUNDLES:
        toolchain.resource(name)  # made now, so that runs find them ready
    return toolchain


def add_uv(toolchain: Toolchain, version: str) -> Path:
    """Install uv ``version`` from the package registry beside the pinned ones (once), so
    that ``uv@VERSION`` works as a subject; its binary's path."""
    if toolchain.uv_binary(version).is_file():
        return toolchain.uv_binary(version)
    log(f"installing uv {version} from the package registry into {toolchain.uv_dir(version)}")
    with _staged(toolchain.uv_dir(version)) as staging:
        _pip(
            "install",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(staging),
            f"uv=={version}",
        )
    return toolchain.uv_binary(version)
