"""What the offline toolchain holds beyond the lab's own needs: the build requirements of the
projects ``cachelab setup --project`` (or ``--real``) was given, and their vendored crates.

The lab's toolchain root keeps one record of them, ``extras.json``:

    {"requirements": [...], "projects": {"attrs-26.1.0": [...]}}

Each project is named by its ``Project.key``. ``requirements`` joins the wheelhouse's inputs
(``fetch.wheelhouse_requirements``), so the wheelhouse is made again, staged and whole, only
when a project adds one it lacked, and keeps them across every later ``setup``. ``missing``
says, offline and before a run starts, which requirements the wheelhouse cannot satisfy: each
is one line naming it and what to run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from lab.errors import ToolchainError
from lab.projects.project import Project

EXTRAS_FILE = "extras.json"
CRATES_DIR = "vendor-extra"  # each project's vendored crates, merged into the crates resource


@dataclass
class Extras:
    requirements: list[str] = field(default_factory=list)
    projects: dict[str, list[str]] = field(default_factory=dict)  # what each project added

    @classmethod
    def load(cls, root: Path) -> Extras:
        path = root / EXTRAS_FILE
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls(list(data.get("requirements", [])), dict(data.get("projects", {})))

    def add(self, project: str, requirements: Iterable[str]) -> list[str]:
        """Record ``requirements`` as ``project``'s; those the wheelhouse did not have yet.
        ToolchainError naming the first that is no requirement (a backend's answer, say),
        and nothing recorded."""
        wanted = sorted({_requirement(project, r) for r in requirements})
        self.projects[project] = sorted({*self.projects.get(project, []), *wanted})
        new = [r for r in wanted if r not in self.requirements]
        self.requirements = sorted({*self.requirements, *wanted})
        return new

    def save(self, root: Path) -> None:
        path = root / EXTRAS_FILE
        scratch = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        payload = {"requirements": self.requirements, "projects": self.projects}
        scratch.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        scratch.rename(path)  # whole or not at all


def _requirement(project: str, text: object) -> str:
    """``text`` as a requirement, normalized; ToolchainError in one line where it is none."""
    try:
        return str(Requirement(text))  # type: ignore[arg-type]  # a backend may say anything
    except (InvalidRequirement, TypeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ToolchainError(f"{project}: {text!r} is not a requirement (PEP 508): {why}") from None


def _versions(wheelhouse: Path) -> dict[str, list[Version]]:
    """Every distribution's versions the wheelhouse holds (wheels and sdists)."""
    found: dict[str, list[Version]] = {}
    for path in wheelhouse.iterdir() if wheelhouse.is_dir() else ():
        try:
            if path.name.endswith(".whl"):
                name, version, _build, _tags = parse_wheel_filename(path.name)
            elif path.name.endswith(".tar.gz"):
                name, version = parse_sdist_filename(path.name)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        found.setdefault(str(name), []).append(version)
    return found


def missing(wheelhouse: Path, requirements: Iterable[str]) -> list[str]:
    """The requirements (for this interpreter) that no file in ``wheelhouse`` satisfies."""
    held = _versions(wheelhouse)
    lacking = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            lacking.append(text)
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        versions = held.get(str(canonicalize_name(req.name)), [])
        if not any(req.specifier.contains(v, prereleases=True) for v in versions):
            lacking.append(text)
    return lacking


def offline_check(project: Project, root: Path) -> None:
    """ToolchainError naming the first of ``project``'s build requirements that the wheelhouse
    of the toolchain at ``root`` lacks, and what to run: its static ones, and what its
    backend asked for when it was set up."""
    wheelhouse = root / "wheelhouse"
    asked = Extras.load(root).projects.get(project.key, [])
    lacking = missing(wheelhouse, [*project.statics.build_requires, *asked])
    if lacking:
        raise ToolchainError(
            f"{project.name}: its build requirement {lacking[0]!r} is not in the offline "
            f"wheelhouse {wheelhouse}: run `cachelab setup --project {project.path}` while "
            "PyPI is reachable"
        )
