"""Seeded random edits to a project tree: what happens between two installs at one path.

Each kind of edit touches one class of file a real project has: its readme, a license file,
a build hook, an in-tree backend, a data file, a Python module, a C or Rust source, a field of
pyproject.toml, a git commit or tag, an untracked file. An edit that finds nothing of its class
in the tree (no C source in a pure-Python project) is skipped and another kind is drawn, so a
seed replays to the same edits on the same tree. The edits never judge: whether an edit
should change the install is the oracle's to say, by building the tree cold.
"""

from __future__ import annotations

import random
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from lab.contract import TREE_LOCK_NAME
from lab.errors import LabError

# Not the project's own files: VCS data, environments, byte code, what builds leave in the tree
# (an installed tree keeps them: an edit there would be an edit of the build's, not the user's).
_NOT_PROJECT = frozenset(
    {".git", ".venv", "__pycache__", "build", "dist", "target", ".tox", ".nox", ".eggs"}
    | {".pdm-build"}
)
_BUILT_SUFFIXES = (".egg-info", ".so", ".pyd", ".o")
_README = ("README", "readme")
_LICENSE = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS")
_NATIVE = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".pyx", ".pxd", ".rs", ".f90"})
# Configuration a backend parses (setup.cfg, Cargo.toml) is no data file: a line appended
# there breaks the build rather than changing what it makes.
_DATA = frozenset({".txt", ".json", ".csv", ".dat", ".typed", ".yaml", ".md", ".rst"})
_CONFIGURATION = frozenset({"CMakeLists.txt"})
# Dependencies an edit may add: every one is in the lab's wheelhouse, so an install that
# resolves them still works offline.
DEPENDENCY_POOL = ("filelock", "packaging", "pluggy", "pathspec", "editables")
# The tree may belong to the runners' uid (Docker's runners write into it).
GIT = (
    "git",
    *("-c", "user.name=cachelab fuzz", "-c", "user.email=fuzz@example.invalid"),
    *("-c", "safe.directory=*"),
)


class EditError(LabError):
    """An edit could not be made (a git command failed): the tree is not what a seed says."""


@dataclass(frozen=True)
class Edit:
    """One edit made: its kind and the file it touched (relative), for the report."""

    kind: str
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}: {self.what}"


def project_files(tree: Path) -> list[Path]:
    """The tree's own files, sorted (a seed must see them in one order)."""
    found = []
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        built = any(part.endswith(_BUILT_SUFFIXES) for part in rel.parts)
        theirs = built or rel.name == TREE_LOCK_NAME or _NOT_PROJECT & set(rel.parts)
        if path.is_file() and not path.is_symlink() and not theirs:
            found.append(path)
    return found


def _pyproject(tree: Path, *names: str) -> object:
    """``pyproject.toml``'s ``[names[0]][names[1]]...``, or None where it is not there."""
    try:
        table: object = tomllib.loads((tree / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for name in names:
        table = table.get(name) if isinstance(table, dict) else None
    return table


def _append(path: Path, tree: Path, kind: str, line: str) -> Edit:
    text = path.read_text(errors="surrogateescape")
    path.write_text(f"{text.rstrip()}\n{line}\n", errors="surrogateescape")
    return Edit(kind, path.relative_to(tree).as_posix(), f"appended {line!r}")


def _comment_for(path: Path, token: str) -> str:
    if path.suffix in {".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".rs"}:
        return f"/* {token} */"
    return f"# {token}"


def _pick(rng: random.Random, files: list[Path]) -> Path | None:
    return rng.choice(files) if files else None


def _readme(rng: random.Random, tree: Path, token: str) -> Edit | None:
    files = [p for p in project_files(tree) if p.name.startswith(_README)]
    path = _pick(rng, files)
    return None if path is None else _append(path, tree, "readme", f"Edited: {token}.")


def _license(rng: random.Random, tree: Path, token: str) -> Edit | None:
    files = [p for p in project_files(tree) if p.name.upper().startswith(_LICENSE)]
    path = _pick(rng, files)
    return None if path is None else _append(path, tree, "license", f"Also: {token}.")


def _build_hook(rng: random.Random, tree: Path, token: str) -> Edit | None:
    """A file the build runs besides the backend: setup.py, a hatch build hook."""
    hooks = _pyproject(tree, "tool", "hatch", "build", "hooks")
    named = ["setup.py"]
    for hook in hooks.values() if isinstance(hooks, dict) else ():
        if isinstance(hook, dict):
            named.append(str(hook.get("path", "hatch_build.py")))
    path = _pick(rng, [tree / n for n in named if (tree / n).is_file()])
    return None if path is None else _append(path, tree, "build-hook", f"# {token}")


def _in_tree_backend(rng: random.Random, tree: Path, token: str) -> Edit | None:
    dirs = _pyproject(tree, "build-system", "backend-path")
    files = []
    for name in dirs if isinstance(dirs, list) else ():
        files += [p for p in project_files(tree / str(name)) if p.suffix == ".py"]
    path = _pick(rng, files)
    return None if path is None else _append(path, tree, "in-tree-backend", f"# {token}")


def _by_suffix(
    kind: str, suffixes: frozenset[str]
) -> Callable[[random.Random, Path, str], Edit | None]:
    def edit(rng: random.Random, tree: Path, token: str) -> Edit | None:
        files = [
            p
            for p in project_files(tree)
            if p.suffix in suffixes
            and p.name not in _CONFIGURATION
            and not p.name.startswith((*_README, *_LICENSE))  # edits of their own
        ]
        path = _pick(rng, files)
        if path is None:
            return None
        line = f"{token} = {len(token)}" if kind == "python-module" else _comment_for(path, token)
        if path.suffix in _DATA:
            line = token
        return _append(path, tree, kind, line)

    return edit


def _pyproject_field(rng: random.Random, tree: Path, token: str) -> Edit | None:
    path = tree / "pyproject.toml"
    if not path.is_file():
        return None
    doc = tomlkit.parse(path.read_text())
    project = doc.get("project")
    if not isinstance(project, dict):
        return None
    dynamic = set(project.get("dynamic", []))
    choices = [f for f in ("description", "keywords", "dependencies", "urls") if f not in dynamic]
    if not choices:
        return None
    field = rng.choice(choices)
    if field == "description":
        project["description"] = f"{project.get('description', '')} {token}".strip()
    elif field == "keywords":
        project.setdefault("keywords", []).append(token)
    elif field == "urls":
        project.setdefault("urls", tomlkit.table())[token] = f"https://example.invalid/{token}"
    else:
        deps = project.setdefault("dependencies", tomlkit.array())
        have = {str(d).split()[0] for d in deps}
        free = [d for d in DEPENDENCY_POOL if d not in have]
        if free:
            deps.append(rng.choice(free))
        else:
            deps.pop()
            field = "dependencies (removed the last)"
    path.write_text(tomlkit.dumps(doc))
    return Edit("pyproject", "pyproject.toml", f"changed [project] {field}")


def _git(tree: Path, *args: str) -> None:
    done = subprocess.run([*GIT, *args], cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        raise EditError(f"git {' '.join(args)} in {tree}: {done.stderr.strip()[-300:]}")


def _git_commit(_rng: random.Random, tree: Path, token: str) -> Edit | None:
    if not (tree / ".git").exists():
        return None
    (tree / "CHANGES.fuzz").write_text(f"{token}\n")
    _git(tree, "add", "-A")
    _git(tree, "commit", "-q", "--no-verify", "-m", f"fuzz {token}")
    return Edit("git-commit", ".", f"committed everything as 'fuzz {token}'")


def _git_tag(rng: random.Random, tree: Path, _token: str) -> Edit | None:
    if not (tree / ".git").exists():
        return None
    tag = f"v{rng.randint(1, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}"
    _git(tree, "tag", "-f", tag)
    return Edit("git-tag", ".", f"tagged HEAD {tag}")


def _untracked(rng: random.Random, tree: Path, token: str) -> Edit | None:
    dirs = sorted({p.parent for p in project_files(tree)})
    where = rng.choice(dirs) if dirs else tree
    path = where / f"untracked-{token}.txt"
    path.write_text(f"{token}\n")
    return Edit("untracked", path.relative_to(tree).as_posix(), "created")


KINDS: dict[str, Callable[[random.Random, Path, str], Edit | None]] = {
    "readme": _readme,
    "license": _license,
    "build-hook": _build_hook,
    "in-tree-backend": _in_tree_backend,
    "data-file": _by_suffix("data-file", _DATA),
    "python-module": _by_suffix("python-module", frozenset({".py"})),
    "native-source": _by_suffix("native-source", _NATIVE),
    "pyproject": _pyproject_field,
    "git-commit": _git_commit,
    "git-tag": _git_tag,
    "untracked": _untracked,
}


def apply(rng: random.Random, tree: Path, index: int) -> Edit:
    """Make one edit to ``tree``, drawn by ``rng``: the ``index``-th of its run."""
    token = f"fuzz{index}x{rng.randrange(16**6):06x}"
    kinds = list(KINDS)
    rng.shuffle(kinds)
    for kind in kinds:
        edit = KINDS[kind](rng, tree, token)
        if edit is not None:
            return edit
    raise EditError(f"{tree}: no kind of edit applies (no files?)")
