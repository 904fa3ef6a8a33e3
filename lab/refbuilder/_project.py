"""The source tree's pyproject.toml: its build system, checked, and what its metadata is read
from, so that a cache key covers every input of the metadata a build would produce.

A cache hit must never install metadata that building this checkout would not produce. The
key always covers ``pyproject.toml``, ``setup.py`` and ``setup.cfg``; where ``[project]``
declares metadata ``dynamic``, the key also covers where the build reads it from:

- uv's own ``[tool.uv] cache-keys`` (globs, ``{file = ...}``, ``{env = ...}``, ``{git = ...}``);
- hatch: ``[tool.hatch.version] path``; pdm: ``[tool.pdm.version] path``; setuptools:
  ``[tool.setuptools.dynamic]`` files and the module an ``attr`` names; flit: the module's
  ``__init__.py``; maturin: ``Cargo.toml``; scikit-build-core: its regex provider's input;
- a version from the VCS (setuptools-scm, hatch-vcs, pdm's scm source, ...), and dynamic
  metadata from a source this module does not know: then the metadata itself, as the
  backend's ``prepare_metadata_for_build_editable`` gives it, joins the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from lab.refbuilder._errors import ProjectError

# PEP 517's fallback when [build-system] is missing.
_DEFAULT_REQUIRES = ("setuptools>=40.8.0",)
_DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
# The default cache-key inputs, as in uv: the files that configure the build.
KEY_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
# Build requirements that read the version from the VCS.
_VCS_PLUGINS = (
    "setuptools-scm",
    "setuptools_scm",
    "hatch-vcs",
    "versioningit",
    "poetry-dynamic-versioning",
    "dunamai",
)


@dataclass(frozen=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] | None = None


@dataclass(frozen=True)
class KeyInputs:
    """What a revision must cover beyond ``KEY_FILES``."""

    globs: tuple[str, ...] = ()  # files, relative to the tree
    env: tuple[str, ...] = ()  # environment variables
    git: bool = False  # the tree's git HEAD and tags
    metadata: bool = False  # the metadata itself: its source is not known here


@dataclass(frozen=True)
class Project:
    path: Path  # pyproject.toml
    system: BuildSystem
    keys: KeyInputs = field(default_factory=KeyInputs)


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


def _module_files(dotted: str, package_dirs: dict[str, Any]) -> list[str]:
    """Where the module ``dotted`` may live in the tree: every candidate, relative."""
    parts = dotted.split(".")
    roots = {d for d in package_dirs.values() if isinstance(d, str)} | {"", "src"}
    found = []
    for root in sorted(roots):
        base = Path(root, *parts)
        found += [f"{base}.py", str(base / "__init__.py")]
    return found


def _get(table: Any, *names: str) -> Any:
    """``table[names[0]][names[1]]...``, or None where any step is missing or no table."""
    for name in names:
        table = table.get(name) if isinstance(table, dict) else None
    return table


@dataclass
class _Found:
    """Where metadata comes from, as far as known: files, fields they give, the VCS."""

    globs: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)
    git: bool = False

    def file(self, glob: Any, *fields: str) -> None:
        if isinstance(glob, str):
            self.globs.append(glob)
            self.fields.update(fields)


def _backends(tool: dict[str, Any], project: dict[str, Any], system: BuildSystem) -> _Found:
    """The dynamic-metadata sources of the common backends."""
    found = _Found()
    found.file(_get(tool, "hatch", "version", "path"), "version")
    found.git |= _get(tool, "hatch", "version", "source") == "vcs"
    if _get(tool, "pdm", "version", "source") == "file":
        found.file(_get(tool, "pdm", "version", "path"), "version")
    found.git |= _get(tool, "pdm", "version", "source") == "scm"
    dynamic = _get(tool, "setuptools", "dynamic")
    for name, spec in dynamic.items() if isinstance(dynamic, dict) else ():
        files = _get(spec, "file")
        for glob in files if isinstance(files, list) else [files]:
            found.file(glob, name)
        attr = _get(spec, "attr")
        if isinstance(attr, str):
            dirs = _get(tool, "setuptools", "package-dir")
            for glob in _module_files(
                attr.rpartition(".")[0], dirs if isinstance(dirs, dict) else {}
            ):
                found.file(glob, name)
    if system.backend.startswith("flit"):  # a module's __version__ and docstring
        module = _get(tool, "flit", "module", "name") or project.get("name")
        for glob in _module_files(str(module or "").replace("-", "_"), {}):
            found.file(glob, "version", "description")
    if system.backend.startswith("maturin"):
        found.file("Cargo.toml", "version")
    found.file(_get(tool, "scikit-build", "metadata", "version", "input"), "version")
    requires = " ".join(system.requires).lower()
    found.git |= any(plugin in requires for plugin in _VCS_PLUGINS)
    return found


def _uv_cache_keys(entries: Any, path: Path) -> KeyInputs:
    """uv's ``[tool.uv] cache-keys``: globs, ``{file}``, ``{dir}``, ``{env}``, ``{git}``."""
    if not isinstance(entries, list):
        raise ProjectError(path, "[tool.uv] cache-keys", f"must be a list, got {entries!r}")
    globs: list[str] = []
    env: list[str] = []
    git = False
    for entry in entries:
        if isinstance(entry, str):
            globs.append(entry)
        elif isinstance(_get(entry, "file"), str):
            globs.append(entry["file"])
        elif isinstance(_get(entry, "dir"), str):
            globs.append(f"{entry['dir']}/**/*")
        elif isinstance(_get(entry, "env"), str):
            env.append(entry["env"])
        elif isinstance(entry, dict) and "git" in entry:
            git = True
        else:
            raise ProjectError(path, "[tool.uv] cache-keys", f"cannot read {entry!r}")
    return KeyInputs(tuple(globs), tuple(env), git)


def _key_inputs(data: dict[str, Any], path: Path, system: BuildSystem) -> KeyInputs:
    tool = _table(data, "tool", path) if "tool" in data else {}
    cache_keys = _get(tool, "uv", "cache-keys")
    declared = _uv_cache_keys(cache_keys, path) if cache_keys is not None else KeyInputs()
    if "project" not in data:  # no [project]: the metadata is all the backend's
        return dataclasses.replace(declared, metadata=True)
    project = _table(data, "project", path)
    dynamic = set(_strings(project.get("dynamic", []), "[project] dynamic", path))
    found = _backends(tool, project, system)
    git = declared.git or found.git
    # declared cache keys are trusted to cover the project's dynamic metadata, as uv does
    unknown = set() if cache_keys is not None else dynamic - found.fields
    unknown -= {"version"} if git else set()
    return KeyInputs(
        globs=tuple(dict.fromkeys([*declared.globs, *found.globs])),
        env=declared.env,
        git=git,
        # a VCS version depends on more than its commit (a dirty tree): ask the backend
        metadata=bool(unknown) or git,
    )


def read(source: Path) -> Project:
    """The tree's pyproject.toml, checked; PEP 517's fallback where there is none."""
    path = source / "pyproject.toml"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        system = BuildSystem(_DEFAULT_REQUIRES, _DEFAULT_BACKEND)
        return Project(path, system, KeyInputs(metadata=True))  # setup.py: the backend knows
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
    system = _build_system(data, path.parent, path)
    return Project(path, system, _key_inputs(data, path, system))
