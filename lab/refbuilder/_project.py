"""The source tree's pyproject.toml: its build system, checked before anything is built or
locked, and the environment variables it declares as inputs of its build.

What a build reads from the tree is not enumerated here: the revision covers the whole tree
(``_tree``). Only what lies outside the tree and a project names comes from here: uv's
``[tool.uv] cache-keys`` ``{env = ...}`` entries, whose values join the revision.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from lab.refbuilder._errors import ProjectError

# PEP 517's fallback when [build-system] is missing.
_DEFAULT_REQUIRES = ("setuptools>=40.8.0",)
_DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"


@dataclass(frozen=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Project:
    path: Path  # pyproject.toml
    system: BuildSystem
    env: tuple[str, ...] = ()  # environment variables whose values join the revision


def _strings(value: Any, where: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(path, where, f"must be a list of strings, got {value!r}")
    return tuple(value)


def _table(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    found = data.get(name, {})
    if not isinstance(found, dict):
        raise ProjectError(path, f"[{name}]", f"must be a table, got {found!r}")
    return found


def _build_system(data: dict[str, Any], source: Path, path: Path) -> BuildSystem:
    if "build-system" not in data:
        return BuildSystem(_DEFAULT_REQUIRES, _DEFAULT_BACKEND)
    table = _table(data, "build-system", path)
    # Without a backend, PEP 517's fallback backend needs its own requirements too.
    fallback = () if "build-backend" in table else _DEFAULT_REQUIRES
    requires = _strings(table.get("requires", list(fallback)), "[build-system] requires", path)
    for req in requires:
        try:
            Requirement(req)
        except InvalidRequirement as exc:
            # packaging's message draws a caret under the fault on further lines.
            reason = str(exc).splitlines()[0]
            raise ProjectError(path, "[build-system] requires", f"{req!r}: {reason}") from None
    backend = table.get("build-backend", _DEFAULT_BACKEND)
    if not isinstance(backend, str) or not backend:
        raise ProjectError(
            path, "[build-system] build-backend", f"must be a string, got {backend!r}"
        )
    backend_path = None
    if "backend-path" in table:
        backend_path = _strings(table["backend-path"], "[build-system] backend-path", path)
        root = source.resolve()
        for entry in backend_path:
            if not (root / entry).resolve().is_relative_to(root):
                raise ProjectError(
                    path, "[build-system] backend-path", f"{entry!r} leaves the source tree"
                )
    return BuildSystem(requires, backend, backend_path)


def _get(table: Any, *names: str) -> Any:
    """``table[names[0]][names[1]]...``, or None where any step is missing or no table."""
    for name in names:
        table = table.get(name) if isinstance(table, dict) else None
    return table


def _declared_env(data: dict[str, Any], path: Path) -> tuple[str, ...]:
    """The environment variables uv's ``[tool.uv] cache-keys`` names (``{env = ...}``). Its
    files, dirs and ``{git = ...}`` are in the revision already, with the rest of the tree;
    an entry of none of uv's forms is refused, as uv refuses it."""
    tool = _table(data, "tool", path) if "tool" in data else {}
    entries = _get(tool, "uv", "cache-keys")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ProjectError(path, "[tool.uv] cache-keys", f"must be a list, got {entries!r}")
    env: list[str] = []
    for entry in entries:
        if isinstance(_get(entry, "env"), str):
            env.append(entry["env"])
        elif not isinstance(entry, str) and not _uv_form(entry):
            raise ProjectError(path, "[tool.uv] cache-keys", f"cannot read {entry!r}")
    return tuple(dict.fromkeys(env))


def _uv_form(entry: Any) -> bool:
    return (
        isinstance(_get(entry, "file"), str)
        or isinstance(_get(entry, "dir"), str)
        or (isinstance(entry, dict) and "git" in entry)
    )


def read(source: Path) -> Project:
    """The tree's pyproject.toml, checked; PEP 517's fallback where there is none."""
    path = source / "pyproject.toml"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Project(path, BuildSystem(_DEFAULT_REQUIRES, _DEFAULT_BACKEND))  # setup.py
    except UnicodeDecodeError as exc:
        raise ProjectError(path, None, f"is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ProjectError(path, None, f"cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectError(path, None, f"is not TOML: {exc}") from None
    return from_data(data, path)


def from_data(data: dict[str, Any], path: Path) -> Project:
    """The project that ``data``, read from ``path``, describes; ProjectError names what is
    wrong with it."""
    return Project(path, _build_system(data, path.parent, path), _declared_env(data, path))
