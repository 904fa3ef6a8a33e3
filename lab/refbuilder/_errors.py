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


class LockTimeout(CacheError):
    """A lock was not had within the lock timeout: the message names the lock, its kind and,
    where known, who holds it and since when."""


class InstallError(Exception):
    """The wheel did not install, or the package does not import afterwards."""


class ProjectError(ValueError):
    """The source tree's pyproject.toml cannot be used: it names the file, the field and what
    is wrong (a usage error: exit 2)."""

    def __init__(self, path: Path, where: str | None, reason: str) -> None:
        self.path = path
        self.where = where
        super().__init__(f"{path}: {where + ' ' if where else ''}{reason}")
