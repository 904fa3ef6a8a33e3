"""What the lab does to checkouts on the host: render one before a run, and a scenario's
delete and edit steps between runs.

Paths come from scenario files and checkouts from runners, so nothing here leaves the checkout
it was given: every match of a delete is resolved and checked before anything is removed, and
an edit never writes through a symlink a runner may have left in its checkout.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.projects.source import Source


class StepError(LabError):
    """A step met a checkout it must not touch: a failed run, not a wrong scenario, since
    what a runner left in its checkout (a symlink out of it) decides it."""


def render(source: Source, dest: Path, params: Mapping[str, Any]) -> None:
    """A fresh checkout at ``dest``: the template rendered with ``params``, or a copy of the
    project."""
    source.render(dest, params)
    # The mount point of each runner's private tmpfs .venv, made now and writable for any
    # uid: Docker copies an existing mount point's mode into the tmpfs it mounts there.
    venv = dest / ".venv"
    venv.mkdir(exist_ok=True)  # a checkout in place has it from its last install
    venv.chmod(0o1777)


def _inside(root: Path, path: Path, what: str) -> Path:
    """``path`` itself (a symlink stays a symlink), checked to lie inside ``root``."""
    target = path.parent.resolve() / path.name
    if target == root:
        raise StepError(f"{what} matches the checkout {root} itself: nothing was removed")
    if not target.is_relative_to(root):
        raise StepError(f"{what} reaches {target}, outside the checkout {root}: nothing changed")
    return target


def delete(checkout: Path, pattern: str) -> list[str]:
    """Remove what ``pattern`` matches inside ``checkout``; what was removed, relative. A match
    outside it removes nothing at all."""
    root = checkout.resolve()
    targets = [_inside(root, match, repr(pattern)) for match in checkout.glob(pattern)]
    for target in sorted(targets, key=lambda p: len(p.parts), reverse=True):
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    return sorted(target.relative_to(root).as_posix() for target in targets)


def _drop_byte_code(module: Path) -> None:
    """Python takes a module's byte code for current where the source's mtime (in whole
    seconds) and size match: an edit within the second of the last import, to a source of
    the same size (a marker of the same length), would import the old code."""
    for cached in (module.parent / "__pycache__").glob(f"{module.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


def edit(source: Source, checkout: Path, params: Mapping[str, Any]) -> list[str]:
    """Render ``source`` with ``params`` over ``checkout``, writing only the files whose
    content changes (the others keep their times, as an edit in place would); what else is
    in the checkout (a build's output) stays. What was written, relative."""
    root = checkout.resolve()
    owner = checkout.stat()  # runners may write what we write: it stays the checkout's owner's
    written = []
    with tempfile.TemporaryDirectory(dir=checkout.parent, prefix=".edit-") as scratch:
        fresh = Path(scratch) / "project"
        source.render(fresh, params)
        for made in sorted(p for p in fresh.rglob("*") if p.is_file()):
            rel = made.relative_to(fresh)
            target = _inside(root, checkout / rel, f"the edit of {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            data = made.read_bytes()
            if target.is_symlink():
                target.unlink()  # never write through it
            elif target.is_file() and target.read_bytes() == data:
                continue
            target.write_bytes(data)
            if target.suffix == ".py":
                _drop_byte_code(target)
            if os.geteuid() == 0:
                os.chown(target, owner.st_uid, owner.st_gid, follow_symlinks=False)
            written.append(rel.as_posix())
    return written
