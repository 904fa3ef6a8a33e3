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
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _requires(project: dict[str, Any], info: dict[str, list[str]]) -> tuple[str, ...] | None:
    """Requires-Dist where it is fixed: PKG-INFO of metadata 2.2 or later that does not
    leave it to the build, or [project] dependencies with no extras (whose markers backends
    spell each their own way)."""
    metadata_version = _normal_version(_first(info, "metadata-version"))
    dynamic = {d.lower() for d in info.get("dynamic", [])}
    fixed_info = metadata_version and Version(metadata_version) >= Version("2.2")
    if fixed_info and "requires-dist" not in dynamic:
        return tuple(info.get("requires-dist", []))
    declared = set(project.get("dynamic", [])) & {"dependencies", "optional-dependencies"}
    if project and not declared and not project.get("optional-dependencies"):
        return tuple(project.get("dependencies", []))
    return None


def _version(project: dict[str, Any], info: dict[str, list[str]], poetry: dict[str, Any]) -> Any:
    if "version" in project and "version" not in project.get("dynamic", []):
        return project["version"]
    if info:  # an sdist: a VCS or file version is frozen into its PKG-INFO
        return _first(info, "version")
    return poetry.get("version") if not project else None


def read(root: Path) -> Statics:
    """What the project at ``root`` (a directory) says of itself."""
    pyproject = _toml(root / "pyproject.toml")
    project: dict[str, Any] = pyproject.get("project", {})
    poetry: dict[str, Any] = pyproject.get("tool", {}).get("poetry", {})
    system: dict[str, Any] = pyproject.get("build-system", {})
    info = _pkg_info(root)
    cfg = _setup_cfg(root) if (root / "setup.cfg").is_file() else {}
    name = project.get("name") or _first(info, "name") or poetry.get("name") or cfg.get("name")
    version = _version(project, info, poetry)
    if version is None and not project and not info and ":" not in cfg.get("version", ":"):
        version = cfg["version"]  # a literal, not `attr:` nor `file:`
    return Statics(
        name=str(name) if name else None,
        version=_normal_version(str(version)) if version else None,
        requires=_requires(project, info),
        module=import_name(root, str(name) if name else None, pyproject),
        build_backend=str(system.get("build-backend", LEGACY_BACKEND)),
        build_requires=tuple(system.get("requires", LEGACY_REQUIRES)),
        backend_path=tuple(system.get("backend-path", ())),
        cargo_manifest=_cargo_manifest(root, pyproject),
    )


def _cargo_manifest(root: Path, pyproject: dict[str, Any]) -> str | None:
    """The Cargo.toml cargo builds from, where the tree has one (maturin's manifest-path)."""
    maturin = pyproject.get("tool", {}).get("maturin", {})
    manifest = str(maturin.get("manifest-path", "Cargo.toml"))
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


def import_name(root: Path, name: str | None, pyproject: dict[str, Any]) -> str | None:
    """The project's top-level import name: the one its backend is told of, else the one
    named like the distribution, else the only package in the tree. None where the tree
    has no Python code of its own to find (a pure Rust extension, say)."""
    tool = pyproject.get("tool", {})
    flit = tool.get("flit", {}).get("module", {}).get("name")
    if flit:
        return str(flit)
    maturin = tool.get("maturin", {})
    homes = [root / str(maturin["python-source"])] if "python-source" in maturin else []
    homes += [root / "src", root]
    wanted = (name or "").lower().replace("-", "_").replace(".", "_")
    candidates = [p for home in homes for p in _packages_in(home)]
    for candidate in candidates:
        if candidate.lower() == wanted:
            return candidate
    unique = sorted(set(candidates))
    return unique[0] if len(unique) == 1 else None
