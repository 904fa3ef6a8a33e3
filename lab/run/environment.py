"""Where a run runs, as the host tells it when the run starts: the lab's and the subject's
versions, the kernel, the backend and the cache's file system; never an environment variable.
It goes into the run's directory and, from there, into its archive."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

from lab import __version__


def file_system_type(path: Path) -> str:
    """The type of the file system ``path`` is on (from /proc/self/mountinfo), or "unknown"."""
    target = path.resolve()
    best, kind = -1, "unknown"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return kind
    for line in lines:
        fields = line.split()
        mount_point = Path(fields[4])
        # the file-system type follows the "-" separator
        fs_type = fields[fields.index("-") + 1]
        if target.is_relative_to(mount_point) and len(mount_point.parts) > best:
            best, kind = len(mount_point.parts), fs_type
    return kind


def environment(cache: Path, *, subject: str, backend: str) -> dict[str, Any]:
    uname = platform.uname()
    return {
        "cachelab": __version__,
        "subject": subject,
        "backend": backend,
        "orchestrator_python": sys.version.split()[0],
        "kernel": f"{uname.system} {uname.release} {uname.machine}",
        "cache_file_system": file_system_type(cache),
    }
