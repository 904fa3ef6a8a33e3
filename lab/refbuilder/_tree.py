"""The source tree: what identifies a revision, and what a backend wrote into it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from lab.contract import TREE_KEY_PREFIX, TREE_LOCK_NAME
from lab.refbuilder._project import KEY_FILES, KeyInputs

# Not the project's content: environments, VCS data, byte code, our own lock.
# cargo's target/ is its build cache, not something the installed package needs.
_SKIP_DIRS = frozenset({".venv", ".git", "__pycache__", ".mypy_cache", ".pytest_cache", "target"})
_SKIP_FILES = frozenset({TREE_LOCK_NAME})
# Sources of compiled extension modules. An editable install serves a project's Python files
# from the tree, but what is compiled only as built: a hit must have been built from these.
_NATIVE_SUFFIXES = frozenset(
    {".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".pyx", ".pxd", ".pxi", ".rs", ".f90"}
)
_NATIVE_NAMES = frozenset({"Cargo.toml", "Cargo.lock", "build.rs", "CMakeLists.txt", "meson.build"})
# Build outputs, not sources (setuptools' build/ holds object files and copies).
_NOT_SOURCE_DIRS = _SKIP_DIRS | {"build", "dist"}

Stat = tuple[int, int]  # size, mtime in ns


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def path_key(source: Path) -> str:
    """The entry key: a hash of the absolute path, as uv's. Same path, same key, whatever
    the checkout behind it."""
    return hashlib.sha256(str(source.absolute()).encode()).hexdigest()[:16]


def tree_key(source: Path) -> str:
    """The history key of a tree's lock: the physical tree, so another checkout at the same
    path has another key."""
    st = source.stat()
    return f"{TREE_KEY_PREFIX}{st.st_dev}:{st.st_ino}"


def _git_state(source: Path) -> str:
    """The tree's git HEAD commit and tags, read from ``.git`` (no git needed); "" without."""
    git = source / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: <path>"
        git = (source / git.read_text().partition(":")[2].strip()).resolve()
    if not git.is_dir():
        return ""
    refs: dict[str, str] = {}
    packed = git / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            digest, _, ref = line.partition(" ")
            if ref:
                refs[ref] = digest
    for path in (git / "refs").rglob("*"):
        if path.is_file():
            refs[path.relative_to(git).as_posix()] = path.read_text().strip()
    head = (git / "HEAD").read_text().strip() if (git / "HEAD").is_file() else ""
    if head.startswith("ref: "):
        head = refs.get(head[5:], head)
    tags = sorted(f"{ref}={digest}" for ref, digest in refs.items() if ref.startswith("refs/tags/"))
    return "\n".join([head, *tags])


def native_sources(source: Path) -> list[str]:
    """The tree's sources of compiled code, relative, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d not in _NOT_SOURCE_DIRS]
        for name in filenames:
            path = Path(dirpath) / name
            if name in _NATIVE_NAMES or path.suffix in _NATIVE_SUFFIXES:
                found.append(path.relative_to(source).as_posix())
    return sorted(found)


def revision(
    source: Path, env_key: str, inputs: KeyInputs, with_ctimes: bool = False, metadata: str = ""
) -> str:
    """A hash of what a build's result depends on, by *content*, so that identical checkouts
    share a revision and no other checkout ever does: the cache-key files (the build's
    configuration and wherever its metadata is read from), the sources of compiled code, the
    environment variables and the git state the project names, the build environment, and,
    where its source is not known, the metadata the backend prepares. Python files are not in
    it: an editable install serves them from the tree.

    ``with_ctimes`` adds the files' ctimes, as uv's freshness check does: then every checkout
    is a revision of its own and nothing is reused across checkouts.
    """
    h = hashlib.sha256(f"env:{env_key}\0".encode())
    globs = inputs.globs
    names = sorted(
        set(KEY_FILES)
        | {p.relative_to(source).as_posix() for g in globs for p in source.glob(g) if p.is_file()}
        | set(native_sources(source))
    )
    for name in names:
        path = source / name
        h.update(name.encode() + b"\0")
        h.update(file_digest(path).encode() if path.is_file() else b"absent")
        if with_ctimes and path.is_file():
            h.update(str(path.stat().st_ctime_ns).encode())
        h.update(b"\0")
    for var in inputs.env:
        h.update(f"${var}={os.environ.get(var, '')}\0".encode())
    if inputs.git:
        h.update(f"git:{_git_state(source)}\0".encode())
    if metadata:
        h.update(f"metadata:{metadata}\0".encode())
    return h.hexdigest()[:16]


def snapshot(source: Path) -> dict[str, Stat]:
    """Every project file with its size and mtime: cheap enough to take around each build."""
    found: dict[str, Stat] = {}
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            if name in _SKIP_FILES:
                continue
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            found[path.relative_to(source).as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


def side_effects(
    source: Path, before: Mapping[str, Stat], after: Mapping[str, Stat]
) -> dict[str, str]:
    """Files the build added or changed in the tree, with their sha256."""
    return {
        rel: file_digest(source / rel)
        for rel, stat in sorted(after.items())
        if before.get(rel) != stat and (source / rel).is_file()
    }


def missing_side_effects(source: Path, expected: Mapping[str, str]) -> list[str]:
    """The side effects this tree lacks (absent or different): an entry needing them is no
    use here, however valid its wheel (uv #11390)."""
    missing = []
    for rel, digest in expected.items():
        path = source / rel
        if not path.is_file() or file_digest(path) != digest:
            missing.append(rel)
    return missing
