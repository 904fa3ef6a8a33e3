"""The offline toolchain under ``.lab/``: what the host hands runners as named resources.

Runners have no network, so everything a build needs comes from here, each a read-only
directory known by name:

    wheelhouse     every wheel a runner may install offline       .lab/wheelhouse
    uv-<version>   a uv release (bin/uv): pinned, or added by     .lab/uv/<version>
                   `cachelab setup --uv-version X`
    refbuilder     the reference builder, run as python -I -S DIR  .lab/refbuilder/<digest>
    probe          the facts probe, run the same way              .lab/probe/<digest>
    crates         vendored crates for offline cargo builds       .lab/vendor

``fetch.ensure`` makes them while the registries are reachable (``cachelab setup``) and
redoes nothing while their inputs are unchanged; ``bundle`` makes the lab's own programs
that runners run. A run only looks them up: ``Toolchain.resource``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.errors import ToolchainError
from lab.resources import CRATES, UV_PREFIX, UV_VERSIONS, WHEELHOUSE
from lab.toolchain import bundle

# Where a part of the toolchain records the digest of its inputs once it is whole.
INPUTS_FILE = ".inputs.json"


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
        if not (self.wheelhouse / INPUTS_FILE).is_file():
            raise ToolchainError(f"no offline wheelhouse at {self.wheelhouse}: {hint}")
        if name == WHEELHOUSE:
            return self.wheelhouse
        if name in bundle.BUNDLES:
            return bundle.ensure(bundle.BUNDLES[name], self.root / name, self.wheelhouse)
        if name == CRATES:
            if not (self.vendor / INPUTS_FILE).is_file():
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
