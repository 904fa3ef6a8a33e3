"""The builder's errors: few, each something a caller acts on."""

from __future__ import annotations

from pathlib import Path


class BuildError(Exception):
    """A backend hook failed, or the backend could not be loaded."""

    def __init__(self, backend: str, hook: str, source: Path, reason: str) -> None:
        self.backend = backend
        self.hook = hook
        self.source = source
        super().__init__(f"backend {backend!r}, hook {hook!r}, source {source}: {reason}")


class CacheError(Exception):
    """The cache cannot be used: a lock does not exclude, a file cannot be written."""


class InstallError(Exception):
    """The wheel did not install, or the package does not import afterwards."""
