"""One archive of a run, to attach to an upstream issue: what happened and where, not the cache.

It holds the resolved scenario, the history, the result, the checker's expectations, the
faults, every runner's log and the run's page, plus ``environment.json``: the lab's and the
subject's versions, the kernel, the backend and the cache's file-system type. It leaves out
the cache, the checkouts, the runners' TMPDIRs and HOMEs, and every environment variable.
"""

from __future__ import annotations

import io
import json
import platform
import sys
import tarfile
from pathlib import Path
from typing import Any

from lab import __version__, history, identity, nemesis
from lab.errors import UsageError
from lab.report import html
from lab.result import FILENAME as RESULT_FILE

# What of a run directory goes in: files, and the logs directory.
_FILES = ("scenario.json", RESULT_FILE, history.FILENAME, identity.FILENAME, nemesis.FILENAME)
ENVIRONMENT_FILE = "environment.json"


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
    """Where a run runs, as the host tells it when the run starts (``environment.json``),
    without a single environment variable."""
    uname = platform.uname()
    return {
        "cachelab": __version__,
        "subject": subject,
        "backend": backend,
        "orchestrator_python": sys.version.split()[0],
        "kernel": f"{uname.system} {uname.release} {uname.machine}",
        "cache_file_system": file_system_type(cache),
    }


def _recorded_environment(run_dir: Path) -> dict[str, Any]:
    """The run's own ``environment.json``; for a run from before it was recorded, what this
    host tells now, marked so."""
    try:
        if (run_dir / ENVIRONMENT_FILE).is_file():
            recorded: dict[str, Any] = json.loads((run_dir / ENVIRONMENT_FILE).read_text())
            return recorded
        scenario = json.loads((run_dir / "scenario.json").read_text())
        result_path = run_dir / RESULT_FILE
        result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{run_dir}: cannot read the run's record: {exc}") from None
    subject = result.get("subject_label") or scenario.get("subject", "unknown")
    told = environment(run_dir / "cache", subject=subject, backend=result.get("backend", "?"))
    return {**told, "recorded": "when bundled, not when run"}


def make(run_dir: Path, out: Path | None = None) -> Path:
    """Write the archive of ``run_dir`` (default: ``<run id>.tar.gz`` beside it)."""
    run_dir = run_dir.resolve()  # runs/latest is a link: the archive is named by the run
    if not (run_dir / history.FILENAME).is_file() or not (run_dir / "scenario.json").is_file():
        raise UsageError(
            f"{run_dir} is not a run directory: it needs {history.FILENAME} and scenario.json"
        )
    said = json.dumps(_recorded_environment(run_dir), indent=2, sort_keys=True).encode() + b"\n"
    # the run's own page, or one drawn now for the archive alone: the run stays as it was
    existing = run_dir / html.PAGE
    page = existing.read_bytes() if existing.is_file() else html.run_page(run_dir).encode()
    target = out or run_dir.with_name(f"{run_dir.name}.tar.gz")
    if target.resolve().is_relative_to(run_dir.resolve()):
        raise UsageError(f"{target}: the archive cannot go inside the run it archives")
    tmp = target.with_name(f".{target.name}.tmp")
    prefix = run_dir.name
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for name in _FILES:
                if (run_dir / name).is_file():
                    tar.add(run_dir / name, f"{prefix}/{name}")
            for log in sorted((run_dir / "logs").glob("*.log")):
                tar.add(log, f"{prefix}/logs/{log.name}")
            for name, text in ((ENVIRONMENT_FILE, said), (html.PAGE, page)):
                info = tarfile.TarInfo(f"{prefix}/{name}")
                info.size = len(text)
                tar.addfile(info, io.BytesIO(text))
        tmp.replace(target)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target
