"""File-system faults, made on the host for a campaign's trial and removed on every way out.

- ``tmpfs``: the cache on a small tmpfs, so writes fail with ENOSPC; ``resize`` lifts the
  limit for the clean follow-up run on the same cache.
- ``bindfs``: a FUSE view of the cache per runner (Debian's bindfs, without lock forwarding),
  so flock on one runner's view does not exclude another's: locks that lie, as flock on some
  network file systems does (uv #18073).

Making mounts needs root. Every mount is written to a registry file named by its owner (this
process, ``lab.runners.owner``) before it is made, and removed after it is gone: leaving the context
removes them all (on success, failure, Ctrl-C and SIGTERM), and ``reap`` removes those of
owners that died without leaving (SIGKILL), as the Docker backend reaps containers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import TracebackType

from lab.errors import LabError
from lab.runners import owner


class MountError(LabError):
    """A fault mount could not be made, or removed."""


def mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point now (from /proc/self/mountinfo)."""
    target = str(path.resolve())
    with Path("/proc/self/mountinfo").open() as f:
        return any(line.split()[4] == target for line in f)


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise MountError(f"{what}: `{cmd[0]}`: {exc}") from exc
    if proc.returncode != 0:
        raise MountError(f"{what}: `{' '.join(cmd)}` failed: {proc.stderr.strip()}")


def _unmount(path: Path) -> None:
    if mounted(path):
        # lazy: a runner that outlived its run may still hold a file open there
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def available() -> str | None:
    """Why fault mounts cannot be made here, or None where they can."""
    if os.geteuid() != 0:
        return "fault mounts (tmpfs, bindfs) need root"
    if shutil.which("bindfs") is None:
        return "bindfs is not installed (Debian's bindfs; `make` installs it as root)"
    return None


class FaultMounts:
    """The fault mounts of one trial, recorded under ``registry`` until they are gone."""

    def __init__(self, registry: Path) -> None:
        self._registry = registry
        self._file = registry / f"{owner.current().replace('/', '_')}.json"
        self._mounts: list[Path] = []

    def __enter__(self) -> FaultMounts:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unmount_all()

    def _remember(self) -> None:
        self._registry.mkdir(parents=True, exist_ok=True)
        if self._mounts:
            payload = {"owner": owner.current(), "mounts": [str(p) for p in self._mounts]}
            self._file.write_text(json.dumps(payload))
        else:
            self._file.unlink(missing_ok=True)

    def _add(self, path: Path) -> None:
        self._mounts.append(path.resolve())
        self._remember()  # before the mount exists: a SIGKILL between leaves a record

    def tmpfs(self, path: Path, size_mb: float) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._add(path)
        size = f"size={max(1, round(size_mb * 1024))}k"
        _run(
            ["mount", "-t", "tmpfs", "-o", f"{size},mode=0777", "tmpfs", str(path)], f"tmpfs {path}"
        )

    def resize(self, path: Path, size_mb: float) -> None:
        size = f"size={max(1, round(size_mb * 1024))}k"
        _run(["mount", "-o", f"remount,{size}", str(path)], f"resizing {path}")

    def bindfs(self, source: Path, view: Path) -> None:
        """``view`` shows ``source``; its locks are its own (no lock forwarding)."""
        view.mkdir(parents=True, exist_ok=True)
        self._add(view)
        _run(
            ["bindfs", str(source), str(view)],
            f"bindfs {source} at {view}",
        )

    def lying_views(self, cache: Path, views: Path, runners: list[str]) -> dict[str, Path]:
        """A bindfs view of ``cache`` per runner, under ``views``: locks that lie."""
        made = {runner: views / runner for runner in runners}
        for view in made.values():
            self.bindfs(cache, view)
        return made

    def unmount_all(self) -> None:
        for path in reversed(self._mounts):
            _unmount(path)
        still = [p for p in self._mounts if mounted(p)]
        self._mounts = still
        self._remember()
        if still:
            raise MountError(f"could not unmount {', '.join(map(str, still))}")


def reap(registry: Path) -> list[str]:
    """Unmount what owners that are gone left mounted; return the mount points."""
    removed: list[str] = []
    if not registry.is_dir():
        return removed
    for record in sorted(registry.glob("*.json")):
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        if owner.alive(str(data.get("owner", ""))):
            continue
        for mount in data.get("mounts", []):
            path = Path(mount)
            if path.exists() and mounted(path):
                _unmount(path)
                removed.append(mount)
        record.unlink(missing_ok=True)
    return removed
