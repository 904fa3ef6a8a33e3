"""One editable install, under one of three locking policies that share this code path.

- ``narrow``: look up without a lock; on a miss build in a private scratch dir under the
  tree lock only; take the entry lock for the atomic rename that publishes the result.
- ``wide``: what uv does today: the entry lock from lookup to publish, around the build.
- ``none``: no locks, and the entry is written in place: the unsafe baseline.
"""

from __future__ import annotations

import contextlib
import enum
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.builder import _install, _locks, _tree
from lab.builder._cache import Cache, Entry, read_entry, write_manifest
from lab.builder._env import BuildEnv, ensure_env, env_key
from lab.builder._errors import BuildError
from lab.builder._events import Events
from lab.builder._hooks import Backend

# PEP 517's fallback when [build-system] is missing.
_DEFAULT_SYSTEM = {
    "requires": ["setuptools>=40.8.0"],
    "build-backend": "setuptools.build_meta:__legacy__",
}


class Policy(enum.StrEnum):
    NARROW = "narrow"
    WIDE = "wide"
    NONE = "none"


@dataclass(frozen=True)
class Request:
    source: Path
    cache: Path
    venv: Path
    wheelhouse: Path
    python: Path  # the interpreter for build envs and the target venv
    policy: Policy = Policy.NARROW
    module: str | None = None  # imported in the venv afterwards, if given
    key_globs: Sequence[str] = field(default_factory=tuple)
    freshness: str = "content"  # or "ctime", uv's rule: no reuse across checkouts
    tree_lock: bool = True  # narrow only; off to show what a shared tree does without it


@dataclass(frozen=True)
class Outcome:
    key: str
    revision: str
    hit: bool
    publish: str | None  # published, dropped, replaced, kept-own, in-place; None on a hit
    wheel: str
    side_effects: dict[str, str]
    imported_from: str | None


def _build_system(source: Path) -> dict[str, Any]:
    path = source / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return dict(_DEFAULT_SYSTEM)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError("?", "read [build-system]", source, f"{path}: {exc}") from exc
    system = data.get("build-system", _DEFAULT_SYSTEM)
    if "build-backend" not in system:
        system = {**_DEFAULT_SYSTEM, **system}
    return dict(system)


def _tree_key(source: Path) -> str:
    st = source.stat()  # the physical tree: another checkout at the same path differs
    return f"{_tree.TREE_KEY_PREFIX}{st.st_dev}:{st.st_ino}"


@contextlib.contextmanager
def _maybe(held: bool, path: Path, key: str, kind: str, events: Events) -> Iterator[None]:
    if held:
        with _locks.held(path, key, kind, events):
            yield
    else:
        yield


def editable_install(req: Request, events: Events) -> Outcome:
    source = req.source.absolute()
    cache = Cache(req.cache.absolute(), events)
    narrow, wide = req.policy is Policy.NARROW, req.policy is Policy.WIDE
    atomic = req.policy is not Policy.NONE
    if atomic:
        cache.sweep()
    system = _build_system(source)
    requires = [str(r) for r in system.get("requires", [])]
    key = _tree.path_key(source)
    revision = _tree.revision(source, env_key(requires, req.python), req.key_globs, req.freshness)
    name = cache.entry_key(key)
    final = cache.entry_dir(key, revision)

    with _maybe(wide, cache.entry_lock(key), name, "entry", events):
        events.emit("lookup", "start", name, revision=revision, policy=req.policy.value)
        entry, reason = _lookup(final, source)
        events.emit("lookup", "hit" if entry else "miss", name, revision=revision, reason=reason)
        if entry is not None:
            imported = _install_and_check(entry, req, events, name)
            return _outcome(key, revision, None, entry, imported)
        with contextlib.ExitStack() as stack:
            # `none` builds straight into the final directory: no scratch, no rename.
            out = stack.enter_context(cache.scratch()) / "out" if atomic else final
            out.mkdir(parents=True, exist_ok=True)
            env = ensure_env(cache, requires, req.python, req.wheelhouse, atomic)
            tree_locked = narrow and req.tree_lock
            # The tree lock covers the build and the publish: whoever takes it next finds the
            # entry already published and builds nothing.
            with _maybe(
                tree_locked, source / _tree.TREE_LOCK_NAME, _tree_key(source), "tree", events
            ):
                found = _lookup(final, source)[0] if tree_locked else None
                if found is None:
                    built = _build(source, system, env, out, req, cache, events, key, revision)
                    published = (
                        _publish(cache, source, out, final, built, key, lock_entry=not wide)
                        if atomic
                        else ("in-place", built)
                    )
            if found is not None:
                events.emit(
                    "lookup",
                    "hit",
                    name,
                    revision=revision,
                    reason="published by the tree lock's previous holder",
                )
                imported = _install_and_check(found, req, events, name)
                return _outcome(key, revision, None, found, imported)
            outcome, built = published
            events.emit("publish", outcome, name, revision=revision)
            # inside the scratch's lifetime: a kept-own wheel lives there
            imported = _install_and_check(built, req, events, name)
    return _outcome(key, revision, outcome, built, imported)


def _publish(
    cache: Cache, source: Path, out: Path, final: Path, built: Entry, key: str, lock_entry: bool
) -> tuple[str, Entry]:
    """Publish our build (taking the entry lock unless the caller holds it); return what
    happened and the entry to install."""
    lock = (cache.entry_lock(key), cache.entry_key(key), "entry") if lock_entry else None
    outcome, existing = cache.publish(out, final, read_entry, lock)
    if existing is None:
        return outcome, Entry(final, built.manifest)
    if _tree.missing_side_effects(source, existing.side_effects):
        return "kept-own", built  # valid for the tree that built it, not for ours
    return outcome, existing


def _outcome(
    key: str, revision: str, publish: str | None, entry: Entry, imported: str | None
) -> Outcome:
    return Outcome(
        key,
        revision,
        publish is None,
        publish,
        str(entry.manifest["wheel"]),
        entry.side_effects,
        imported,
    )


def _lookup(final: Path, source: Path) -> tuple[Entry | None, str]:
    if not final.exists():
        return None, "absent"
    entry = read_entry(final)
    if entry is None:
        return None, "invalid manifest or wheel"
    missing = _tree.missing_side_effects(source, entry.side_effects)
    if missing:
        return None, f"this tree lacks the build's side effects: {', '.join(missing)}"
    return entry, "valid"


def _build(
    source: Path,
    system: dict[str, Any],
    env: BuildEnv,
    out: Path,
    req: Request,
    cache: Cache,
    events: Events,
    key: str,
    revision: str,
) -> Entry:
    backend = Backend(source, str(system["build-backend"]), system.get("backend-path"), env.python)
    before = _tree.snapshot(source)
    events.emit("build", "start", cache.entry_key(key), backend=backend.name)
    extra = backend.requires_for_editable()
    if extra and not set(extra) <= set(env.requirements):
        env = ensure_env(
            cache,
            [*env.requirements, *extra],
            req.python,
            req.wheelhouse,
            req.policy is not Policy.NONE,
        )
        backend = Backend(source, backend.name, system.get("backend-path"), env.python)
    wheel = backend.build_editable(out)
    side_effects = _tree.side_effects(source, before, _tree.snapshot(source))
    events.emit(
        "build", "end", cache.entry_key(key), wheel=wheel.name, side_effects=len(side_effects)
    )
    manifest = {
        "format": 1,
        "key": key,
        "revision": revision,
        "source": str(source),
        "backend": backend.name,
        "wheel": wheel.name,
        "size": wheel.stat().st_size,
        "sha256": _tree.file_digest(wheel),
        "side_effects": side_effects,
        "created_wall": time.time(),
    }
    write_manifest(out, manifest)
    return Entry(out, manifest)


def _install_and_check(entry: Entry, req: Request, events: Events, name: str) -> str | None:
    events.emit("install", "start", name, wheel=entry.manifest["wheel"])
    venv = req.venv.absolute()
    _install.ensure_venv(venv, req.python)
    _install.install_wheel(entry.wheel, venv)
    imported = _install.check_import(venv, req.module) if req.module else None
    events.emit("install", "end", name, imported_from=imported)
    return imported
