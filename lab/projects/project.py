"""A project of the user's as the source of a run's checkouts, instead of a template.

    source = project.open(Path("../attrs-26.1.0.tar.gz"))

``--project PATH`` names a directory with a ``pyproject.toml`` or ``setup.py``, a git checkout
of one (its history comes too, so VCS versions work), or an sdist (``.tar.gz``). Each
checkout of a run is a copy of it: a directory's files as they are (but its ``.venv`` and
byte code); a git checkout's the same, over a repository of the copy's own (``gitcopy``:
a worktree's or submodule's ``.git`` file is never copied as it is, so nothing done in a
copy reaches the user's repository); an sdist unpacked without its top directory. An sdist
is unpacked with tarfile's ``data`` filter and every member (its path, and a link's target)
must stay inside its one top directory, so an archive can write nowhere else. What each
checkout must give comes from the project's own files where they say it (``statics``), and
from the oracle's cold build where they leave it to the build: no marker is rendered into a
project.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import UsageError
from lab.projects import cargo, gitcopy
from lab.projects.identity import Identity, normalized
from lab.projects.statics import Statics, StaticsError, read
from lab.runners.view import Needs, RunnerView

VALID = (
    "a directory with a pyproject.toml or setup.py, a git checkout of one, or an sdist (.tar.gz)"
)
_NOT_COPIED = frozenset({".venv", "__pycache__"})  # the runner's own venv, byte code
_NATIVE_SUFFIXES = frozenset({".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs", ".f90"})
_NATIVE_BACKENDS = ("maturin", "scikit_build_core", "mesonpy")


class ProjectError(UsageError):
    """``--project PATH`` names nothing a run can use: one line naming it and what is."""

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        super().__init__(f"--project {path}: {why}; expected {VALID}")


class Kind(enum.StrEnum):
    DIRECTORY = "directory"
    GIT = "git"
    SDIST = "sdist"


def _inside(top: str, shown: Path) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo]:
    """tarfile's ``data`` filter, and then the same filter once more with ``top`` as the
    destination: a member whose path or link target leaves the top directory (through a link
    to ``..`` extracted before it, say) is ProjectError naming it."""

    def check(member: tarfile.TarInfo, scratch: str) -> tarfile.TarInfo:
        kept = tarfile.data_filter(member, scratch)
        rel = member.name.removeprefix(top).removeprefix("/") or "."
        link = member.linkname
        if member.islnk():  # an archive path, not one relative to the member
            link = link.removeprefix(top).removeprefix("/") if link.startswith(f"{top}/") else "/"
        try:
            tarfile.data_filter(
                member.replace(name=rel, linkname=link, deep=False), f"{scratch}/{top}"
            )
        except tarfile.FilterError:
            raise ProjectError(
                shown, f"its member {member.name} leaves its top directory"
            ) from None
        return kept

    return check


def _unpack(sdist: Path, dest: Path, shown: Path) -> None:
    """The sdist's one top directory's content, as ``dest`` (which must not exist yet);
    ``shown``: the sdist as the user named it."""
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".unpack-") as scratch:
        try:
            with tarfile.open(sdist, "r:gz") as archive:
                tops = {m.name.split("/")[0] for m in archive.getmembers()}
                if len(tops) != 1 or tops & {"", ".", ".."}:
                    raise ProjectError(shown, f"an sdist has one top directory, not {sorted(tops)}")
                archive.extractall(scratch, filter=_inside(next(iter(tops)), shown))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ProjectError(shown, f"not a readable sdist ({exc})") from None
        top = Path(scratch) / tops.pop()
        if not top.is_dir() or top.is_symlink():
            raise ProjectError(shown, "its one top member is not a directory")
        top.rename(dest)


def _copy(src: Path, dest: Path) -> None:
    shutil.copytree(
        src, dest, symlinks=True, ignore=lambda _d, names: [n for n in names if n in _NOT_COPIED]
    )


def _git_copy(src: Path, dest: Path) -> None:
    try:
        gitcopy.copy(src, dest, _NOT_COPIED)
    except gitcopy.GitCopyError as exc:
        raise ProjectError(src, str(exc)) from None


def slug(text: str) -> str:
    """``text`` as a plain name, fit for a file's: every run of characters but letters,
    digits, ``_``, ``.`` and ``-`` made one ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def _key(statics: Statics, kind: Kind, path: Path) -> str:
    """Its distribution and version where its files fix both; else what they say of it, its
    kind and a digest of where it is, so that two projects whose builds alone name them (a
    setup.py alone) or version them (a VCS version) never share one."""
    if statics.name and statics.version:
        return slug(f"{statics.name}-{statics.version}")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return slug(f"{statics.name or path.name}-{kind}-{digest}")


@dataclass(frozen=True)
class Project:
    path: Path  # resolved, on the host
    kind: Kind
    statics: Statics
    native: bool  # its build compiles: runners need a C compiler
    rust: bool  # its build runs cargo: runners need vendored crates and cargo
    # One plain name for it (``_key``), fixed when it is opened (the oracle naming it later
    # changes it not): the toolchain's record of what it needs, its crates, the oracle's home.
    key: str
    # Each checkout IS the directory (a link to it), not a copy: what a build writes into its
    # tree stays there for the next install, as in a developer's tree (the fuzzer's).
    in_place: bool = False

    @property
    def name(self) -> str:
        """For people: the distribution and where it came from."""
        return f"{self.statics.name or self.path.name} ({self.kind} {self.path})"

    @property
    def module(self) -> str | None:
        return self.statics.module

    @property
    def needs(self) -> Needs:
        binaries = {"cc"} if self.native or self.rust else set()
        if self.rust:
            return cargo.NEEDS | Needs(binaries=frozenset(binaries))
        return Needs(binaries=frozenset(binaries))

    def runner_env(self, view: RunnerView) -> dict[str, str]:
        return cargo.runner_env(view) if self.rust else {}

    def home_files(self, view: RunnerView) -> dict[str, str]:
        return cargo.home_files(view) if self.rust else {}

    def render(self, dest: Path, params: Mapping[str, Any]) -> None:  # noqa: ARG002
        """A copy of the project at ``dest`` (which must not exist yet); a project takes no
        parameters, so ``params`` (a template's) change nothing."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.in_place and self.kind is not Kind.SDIST:
            dest.symlink_to(self.path, target_is_directory=True)
        elif self.kind is Kind.SDIST:
            _unpack(self.path, dest, self.path)
        elif self.kind is Kind.GIT:
            _git_copy(self.path, dest)
        else:
            _copy(self.path, dest)

    def marked(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A project renders no marker: its copies are alike as they are."""
        return dict(params)

    def identity(self, params: Mapping[str, Any], checkout: str, checkout_name: str) -> Identity:  # noqa: ARG002
        """What a runner that sees a copy of the project at ``checkout`` must find: what the
        project's files say; the rest is the oracle's to say."""
        return Identity(
            checkout=checkout,
            checkout_name=checkout_name,
            marker="",
            distribution=normalized(self.statics.name or ""),
            version=self.statics.version,
            requires=self.statics.requires,
            module=self.statics.module,
            native=None,
        )

    def probe_spec(self, checkout: str) -> str:
        """What the probe looks at: the distribution, and where the module would import from
        (found, not imported: a project installed without its dependencies may not import)."""
        return json.dumps(
            {
                "checkout": checkout,
                "distribution": normalized(self.statics.name or ""),
                "module": self.statics.module,
                "find_only": True,
                "native": None,
                "check": "",
            }
        )


def _native_sources(root: Path) -> bool:
    """Whether the tree holds sources a compiler builds (git's and venvs' files aside)."""
    for _dir, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in {".git", *_NOT_COPIED}]
        if any(Path(f).suffix in _NATIVE_SUFFIXES for f in files):
            return True
    return False


def _read(path: Path, root: Path, kind: Kind, resolved: Path) -> Project:
    """``path`` as the user named it, read in ``root``; ``resolved``: where it is."""
    if not ((root / "pyproject.toml").is_file() or (root / "setup.py").is_file()):
        raise ProjectError(path, "it has no pyproject.toml nor setup.py at its top")
    try:
        statics = read(root)
    except StaticsError as exc:
        raise ProjectError(path, str(exc)) from None
    rust = statics.cargo_manifest is not None or statics.build_backend.startswith("maturin")
    native = _native_sources(root) or statics.build_backend.startswith(_NATIVE_BACKENDS)
    return Project(resolved, kind, statics, native, rust, _key(statics, kind, resolved))


def open_project(path: Path) -> Project:
    """The project at ``path``, checked and read; ProjectError (exit 2) where it is none."""
    resolved = path.expanduser().resolve()
    if resolved.is_dir():
        kind = Kind.GIT if os.path.lexists(resolved / ".git") else Kind.DIRECTORY
        if kind is Kind.GIT:
            _readable_git(path, resolved)
        return _read(path, resolved, kind, resolved)
    if not resolved.exists():
        raise ProjectError(path, "no such file or directory")
    if not resolved.name.endswith(".tar.gz"):
        raise ProjectError(path, "a file that is not an sdist")
    with tempfile.TemporaryDirectory(prefix="cachelab-sdist-") as scratch:
        unpacked = Path(scratch) / "project"
        _unpack(resolved, unpacked, path)
        if os.path.lexists(unpacked / ".git"):  # a checkout of it must be a repository of its own
            try:
                gitcopy.check(unpacked, [], ".git")
            except gitcopy.GitCopyError as exc:
                raise ProjectError(path, str(exc)) from None
        return _read(path, unpacked, Kind.SDIST, resolved)


def _readable_git(path: Path, resolved: Path) -> None:
    try:
        gitcopy.readable(resolved)
    except gitcopy.GitCopyError as exc:
        raise ProjectError(path, str(exc)) from None
