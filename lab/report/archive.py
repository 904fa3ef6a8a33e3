"""One archive of a run, to attach to an upstream issue: what happened and where, not the cache.

It holds the resolved scenario, the history, the result, the checker's expectations, the
faults, every runner's log and the run's page, and where it ran as the run recorded it (the
lab's and the subject's versions, the kernel, the backend and the cache's file-system type:
``lab.run.environment``). It leaves out the cache, the checkouts, the runners' TMPDIRs and
HOMEs, and every environment variable.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from lab.errors import UsageError
from lab.report import html
from lab.rundir import RunDir


def _members(run_dir: RunDir) -> list[Path]:
    """What of a run goes in: its record and its logs, never its cache, checkouts or the
    runners' own directories."""
    record = [
        run_dir.scenario,
        run_dir.result,
        run_dir.history,
        run_dir.identities,
        run_dir.faults,
        run_dir.environment,
    ]
    return [p for p in record if p.is_file()] + list(run_dir.runner_logs().values())


def make(path: Path, out: Path | None = None) -> Path:
    """Write the archive of the run at ``path`` (default: ``<run id>.tar.gz`` beside it)."""
    run_dir = RunDir(path.resolve())  # runs/latest is a link: the archive is named by the run
    if not run_dir.history.is_file() or not run_dir.scenario.is_file():
        raise UsageError(
            f"{run_dir.path} is not a run directory: it needs {run_dir.history.name} and "
            f"{run_dir.scenario.name}"
        )
    # the run's own page, or one drawn now for the archive alone: the run stays as it was
    page = (
        run_dir.page.read_bytes()
        if run_dir.page.is_file()
        else html.run_page(run_dir.path).encode()
    )
    target = out or run_dir.path.with_name(f"{run_dir.run_id}.tar.gz")
    if target.resolve().is_relative_to(run_dir.path):
        raise UsageError(f"{target}: the archive cannot go inside the run it archives")
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for member in _members(run_dir):
                tar.add(member, f"{run_dir.run_id}/{member.relative_to(run_dir.path)}")
            info = tarfile.TarInfo(f"{run_dir.run_id}/{run_dir.page.name}")
            info.size = len(page)
            tar.addfile(info, io.BytesIO(page))
        tmp.replace(target)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target
