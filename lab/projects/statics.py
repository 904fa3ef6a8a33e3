"""What a project says about itself without being built: its distribution name, version,
requirements and import name where its files state them, and its build requirements.

Read from ``pyproject.toml`` (``[project]``, ``[build-system]``, ``[tool.poetry]``,
``[tool.flit.module]``, ``[tool.maturin]``), an sdist's ``PKG-INFO`` and ``setup.cfg``'s
``[metadata]``. A field is None where the files leave it to the build (``dynamic``, a VCS
version in a checkout, a ``setup.py``): then the oracle's cold build says it. Nothing here
runs the project's code. Standard library and ``packaging`` only.
"""

from __future__ import annotations

import configparser
import email.parser
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

# What pip and uv assume of a project without [build-system] (PEP 517's legacy fallback).
LEGACY_REQUIRES = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
# Top-level directories that are not the project's importable code.
_NOT_CODE = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "bench"}
    | {"scripts", "tools", "build", "dist", "ci", "tasks", "changelog.d", "typings"}
)
_NOT_MODULES = frozenset({"setup", "conftest", "noxfile", "tasks", "fabfile", "hatch_build"})


class StaticsError(ValueError):
    """A project file that cannot be read: the message names the file and why."""


@dataclass(frozen=True)
class Statics:
    name: str | None  # as written; the checker normalizes
    version: str | None  # normalized (PEP 440), as backends write it
    requires: tuple[str, ...] | None  # every Requires-Dist, where the files fix them
    module: str | None  # the top-level import name, where the tree has one to find
    build_backend: str
    build_requires: tuple[str, ...]
    backend_path: tuple[str, ...] = ()  # an in-tree backend's directories
    cargo_manifest: str | None = None  # where cargo builds it (maturin), relative


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StaticsError(f"{path}: not readable TOML: {exc}") from None


def _pkg_info(root: Path) -> dict[str, list[str]]:
    """An sdist's PKG-INFO, each header's values; empty where there is none."""
    path = root / "PKG-INFO"
    if not path.is_file():
        return {}
    message = email.parser.Parser().parsestr(path.read_text(encoding="utf-8", errors="replace"))
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key.lower(), []).append(str(value).strip())
    return fields


def _setup_cfg(root: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "setup.cfg", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise StaticsError(f"{root / 'setup.cfg'}: not readable: {exc}") from None
    return dict(parser["metadata"]) if parser.has_section("metadata") else {}


def _normal_version(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(Version(text))
    except InvalidVersion:
        return None


def _first(fields: dict[str, list[str]], key: str) -> str | None:
    return fields.get(key, [None])[0]


@dataclass(frozen=True)
class _Table:
    """A table of ``pyproject.toml`` whose values are checked as they are read: one of the
    wrong kind is StaticsError naming its field (as a dotted key) and what it takes."""

    data: Mapping[str, Any]
    keys: tuple[str, ...] = ()  # where it is in the file; () for the file itself

    def __bool__(self) -> bool:
        return bool(self.data)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def _wrong(self, key: str, expected: str) -> StaticsError:
        shown = json.dumps(self.data[key], default=str)
        shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
        field = ".".join((*self.keys, key))
        return StaticsError(f"pyproject.toml: {field} = {shown}: expected {expected}")

    def table(self, key: str) -> _Table:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self._wrong(key, "a table")
        return _Table(value, (*self.keys, key))

    def string(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, "a list of strings")
        return tuple(value)

    def requirements(self, key: str) -> tuple[str, ...] | None:
        """A list of requirements, each as written."""
        value = self.data.get(key)
        if value is None:
            return None
        expected = "a list of requirements (PEP 508 strings)"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, expected)
        for text in value:
            try:
                Requirement(text)
            except InvalidRequirement as exc:
                field = ".".join((*self.keys, key))
                why = str(exc).splitlines()[0]
                raise StaticsError(
                    f"pyproject.toml: {field} holds {json.dumps(text)}: expected {expected} ({why})"
                ) from None
        return tuple(value)


def _requires(project: _Table, info: dict[str, list[str]]) -> tuple[str, ...] | None:
    """Requires-Dist where it is fixed: PKG-INFO of metadata 2.2 or later that does not
    leave it to the build, or [project] dependencies with no extras (whose markers backends
    spell each their own way)."""
    metadata_version = _normal_version(_first(info, "metadata-version"))
    dynamic = {d.lower() for d in info.get("dynamic", [])}
    fixed_info = metadata_version and Version(metadata_version) >= Version("2.2")
    if fixed_info and "requires-dist" not in dynamic:
        return tuple(info.get("requires-dist", []))
    declared = set(project.strings("dynamic") or ()) & {"dependencies", "optional-dependencies"}
    if project and not declared and not project.table("optional-dependencies"):
        return project.requirements("dependencies") or ()
    return None


def _version(project: _Table, info: dict[str, list[str]], poetry: _Table) -> str | None:
    if "version" in project and "version" not in (project.strings("dynamic") or ()):
        return project.string("version")
    if info:  # an sdist: a VCS or file version is frozen into its PKG-INFO
        return _first(info, "version")
    return poetry.string("version") if not project else None


def read(root: Path) -> Statics:
    """What the project at ``root`` (a directory) says of itself; StaticsError where a file
    cannot be read or a field it uses is not of its kind."""
    pyproject = _Table(_toml(root / "pyproject.toml"))
    project = pyproject.table("project")
    tool = pyproject.table("tool")
    poetry = tool.table("poetry")
    system = pyproject.table("build-system")
    info = _pkg_info(root)
    cfg = _setup_cfg(root) if (root / "setup.cfg").is_file() else {}
    name = project.string("name") or _first(info, "name") or poetry.string("name")
    name = name or cfg.get("name")
    version = _version(project, info, poetry)
    if version is None and not project and not info and ":" not in cfg.get("version", ":"):
        version = cfg["version"]  # a literal, not `attr:` nor `file:`
    build_requires = system.requirements("requires")
    return Statics(
        name=name or None,
        version=_normal_version(version),
        requires=_requires(project, info),
        module=_import_name(root, name or None, tool),
        build_backend=system.string("build-backend") or LEGACY_BACKEND,
        build_requires=LEGACY_REQUIRES if build_requires is None else build_requires,
        backend_path=system.strings("backend-path") or (),
        cargo_manifest=_cargo_manifest(root, tool),
    )


def _cargo_manifest(root: Path, tool: _Table) -> str | None:
    """The Cargo.toml cargo builds from, where the tree has one (maturin's manifest-path)."""
    manifest = tool.table("maturin").string("manifest-path") or "Cargo.toml"
    return manifest if (root / manifest).is_file() else None


def _packages_in(directory: Path) -> list[str]:
    """The importable top-level names directly in ``directory``."""
    if not directory.is_dir():
        return []
    found = []
    for child in sorted(directory.iterdir()):
        stem = child.name.removesuffix(".py")
        if not stem.isidentifier() or stem in _NOT_MODULES or child.name in _NOT_CODE:
            continue
        if child.is_dir() and (child / "__init__.py").is_file():
            found.append(child.name)
        elif child.is_file() and child.suffix == ".py":
            found.append(stem)
    return found


def _import_name(root: Path, name: str | None, tool: _Table) -> str | None:
    """The project's top-level import name: the one its backend is told of, else the one
    named like the distribution, else the only package in the tree. None where the tree
    has no Python code of its own to find (a pure Rust extension, say)."""
    flit = tool.table("flit").table("module").string("name")
    if flit:
        return flit
    source = tool.table("maturin").string("python-source")
    homes = [root / source] if source else []
    homes += [root / "src", root]
    wanted = (name or "").lower().replace("-", "_").replace(".", "_")
    candidates = [p for home in homes for p in _packages_in(home)]
    for candidate in candidates:
        if candidate.lower() == wanted:
            return candidate
    unique = sorted(set(candidates))
    return unique[0] if len(unique) == 1 else None
