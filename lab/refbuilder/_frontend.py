"""One editable install, under one of four locking policies that share this code path.

- ``narrow``: look up without a lock; on a miss build in a private scratch dir under the
  tree lock only; take the entry lock for the atomic rename that publishes the result.
- ``coalesce``: as ``narrow``, but a runner that misses while another builds the same key
  and revision waits for that build and takes its result, where it is expected to serve
  this checkout too (``_reuse``); one build instead of N, each wait bounded.
- ``wide``: as uv does today: the entry lock from lookup until installed, around the build.
- ``none``: no locks, and the entry is written in place: the unsafe baseline.

Which lock is held when comes from the policy's row in ``_plan.LOCKING``.

What a lookup finds is decided by the tree's content (``_tree``, ``_lookup``): the tree is
scanned once for the plan and again, cheaply, after every wait and around the build, so the
entry a build publishes is named by the tree that build saw, and its manifest says what the
build added to that tree.

Whatever the policy, a build is published only once it has proved itself: a sound wheel, and
installed and imported for the runner that built it. A hit that does not install here is a
miss. A cache that cannot be written costs the cache, not the install: the builder then builds
without it (in a private cache it throws away), as pip does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from lab.contract import TREE_LOCK_NAME, Failpoint, LockKind, Op, Phase
from lab.refbuilder import (
    Installed,
    Request,
    _failpoints,
    _install,
    _project,
    _reuse,
    _tree,
    _wheel,
)
from lab.refbuilder._cache import Cache, Entry, LockSpec, read_entry, write_manifest
from lab.refbuilder._env import BuildEnv, BuildEnvs
from lab.refbuilder._errors import BuildError, CacheError, InstallError, LockTimeout
from lab.refbuilder._events import Events
from lab.refbuilder._hooks import BuildBackend
from lab.refbuilder._lookup import lookup
from lab.refbuilder._plan import EntryLock, Plan, locking, make_plan


def editable_install(req: Request, events: Events) -> Installed:
    cache = Cache(req.cache.absolute(), events, req.lock_timeout)
    try:
        return _Install(req, events, cache).run()
    except (BuildError, CacheError, InstallError, OSError) as exc:
        why = cache.unwritable(exc)
        if why is None:
            raise
        message = f"the cache {cache.root} cannot be written ({why}): building without it"
        events.emit(Op.BUILDER, Phase.WARNED, message=message, error=str(exc))
        print(f"warning: {message}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="cachelab-uncached-") as private:
        # its own names in events: its locks are no one else's
        alone = Cache(Path(private), events, req.lock_timeout, label=f"{Path(private).name}/")
        return dataclasses.replace(_Install(req, events, alone).run(), cached=False)


class _Install:
    def __init__(self, req: Request, events: Events, cache: Cache) -> None:
        self.req = req
        self.events = events
        self.locking = locking(req.policy, req.tree_lock)
        self.cache = cache
        self.envs = BuildEnvs(cache, req.python, req.wheelhouse, self.locking.atomic)

    def run(self) -> Installed:
        try:
            return self._run()
        finally:
            self.envs.release()

    def _run(self) -> Installed:
        project = _project.read(self.req.source.absolute())
        if self.locking.atomic:
            self.cache.sweep()
        plan = self._plan(project)
        entry_lock = self.cache.entry_lock(plan.key)
        with self.cache.held(entry_lock if self.locking.entry is EntryLock.WHOLE else None):
            self.events.emit(
                Op.LOOKUP,
                Phase.START,
                plan.entry_name,
                revision=plan.revision,
                policy=self.req.policy,
            )
            entry, reason = lookup(plan)
            phase = Phase.HIT if entry else Phase.MISS
            reuse: dict[str, object] = {}
            if entry is None and self.locking.coalesce:
                expected, why = _reuse.expected(plan.entry_dir.parent, plan.system)
                reuse = {"reuse_expected": expected, "reuse_why": why}
            self.events.emit(
                Op.LOOKUP, phase, plan.entry_name, revision=plan.revision, reason=reason, **reuse
            )
            if entry is not None:
                try:
                    return _result(plan, entry, None, self._install(plan, entry))
                except InstallError as exc:  # never poisoned: build our own instead
                    self._unusable(plan, exc)
                return self._build_and_publish(plan)
            if reuse.get("reuse_expected"):
                return self._coalesced(plan)
            return self._build_and_publish(plan)

    def _plan(self, project: _project.Project) -> Plan:
        skip = (self.req.cache.absolute(), self.req.venv.absolute())  # where in the tree
        whole = self.locking.whole_tree
        return make_plan(project, self.cache, self.req.python, self.req.freshness, skip, whole)

    def _unusable(self, plan: Plan, exc: InstallError) -> None:
        reason = f"the entry does not install here: {exc}"
        self.events.emit(
            Op.LOOKUP, Phase.MISS, plan.entry_name, revision=plan.revision, reason=reason
        )

    def _coalesced(self, plan: Plan) -> Installed:
        """Wait for a build of the same revision under way elsewhere and take its result;
        where none was under way, build and publish, holding the build lock so that the next
        runners wait for this build. A wait that ends without a result this tree can use (its
        builder failed, was killed, or built what serves only its own tree) or past the lock
        timeout (its builder stopped or slow) ends in a build of our own, in parallel with
        the other waiters': a build that fails every time fails them all at once, not in
        turn."""
        with contextlib.ExitStack() as building:
            try:
                waited = building.enter_context(
                    self.cache.held(self.cache.build_lock(plan.key, plan.revision))
                )
            except LockTimeout:
                return self._build_and_publish(plan)
            found = lookup(plan.rescanned())[0]
            if found is None:
                if waited:
                    building.close()
                return self._build_and_publish(plan)
            building.close()
            self.events.emit(
                Op.LOOKUP,
                Phase.HIT,
                plan.entry_name,
                revision=plan.revision,
                reason="published by the build it waited for",
                coalesced=True,
            )
            try:
                return _result(plan, found, None, self._install(plan, found))
            except InstallError as exc:
                self._unusable(plan, exc)
        return self._build_and_publish(plan)

    def _build_and_publish(self, plan: Plan) -> Installed:
        tree_lock = LockSpec(
            plan.source / TREE_LOCK_NAME, _tree.tree_key(plan.source), LockKind.TREE
        )
        with contextlib.ExitStack() as stack:
            # `none` builds straight into the final directory: no scratch, no rename.
            scratch = stack.enter_context(self.cache.scratch()) if self.locking.atomic else None
            env = self.envs.ensure(plan.system.requires)
            # The tree lock covers the build and the publish: whoever takes it next finds the
            # entry already published and builds nothing.
            with self.cache.held(tree_lock if self.locking.tree else None):
                # the tree as the build sees it: another's build may have added to it meanwhile
                plan = plan.rescanned()
                found = lookup(plan)[0] if self.locking.tree else None
                if found is None:
                    out = plan.entry_dir if scratch is None else scratch / "out"
                    out.mkdir(parents=True, exist_ok=True)
                    built = self._build(plan, env, out)
                    # proved before it is published: it installs and imports here
                    imported = self._install(plan, built)
                    _failpoints.hit(Failpoint.BEFORE_PUBLISH, self.events)
                    outcome, there = self._publish(plan, built)
                    _failpoints.hit(Failpoint.AFTER_PUBLISH, self.events)
            if found is not None:
                reason = "published by the tree lock's previous holder"
                self.events.emit(
                    Op.LOOKUP, Phase.HIT, plan.entry_name, revision=plan.revision, reason=reason
                )
                return _result(plan, found, None, self._install(plan, found))
            # what is now at the entry's path, for checkers to compare later
            self.events.emit(
                Op.PUBLISH,
                outcome,
                plan.entry_name,
                revision=plan.revision,
                **({} if there is None else there.digest),
            )
            return _result(plan, built, outcome, imported)

    def _backend(self, source: Path, system: _project.BuildSystem, env: BuildEnv) -> BuildBackend:
        """The backend of ``source`` in ``env``, or in a layer on it of what the backend asks
        for to build an editable (hatchling's `editables`)."""
        args = (source, system.backend, system.backend_path)
        backend = BuildBackend(*args, env.python, env.scripts)
        extra = backend.requires_for_editable()
        if extra and not set(extra) <= set(env.requirements):
            env = self.envs.ensure([*env.requirements, *extra], base=env)
            backend = BuildBackend(*args, env.python, env.scripts)
        return backend

    def _build(self, plan: Plan, env: BuildEnv, out: Path) -> Entry:
        """Build ``plan``'s tree (as scanned just now) into ``out``; the entry's manifest says
        what the build left in the tree: the files added or changed while it ran
        (``side_effects``, which a tree must have for the entry to serve it) and the entries
        it added that can be its own (``added``, which a lookup in this same tree leaves out
        to find the revision: ``_tree.Tree.added_by_build``)."""
        self.events.emit(Op.BUILD, Phase.START, plan.entry_name, backend=plan.system.backend)
        started = time.time_ns()  # the backend's hooks write into the tree from here...
        backend = self._backend(plan.source, plan.system, env)
        _failpoints.hit(Failpoint.MID_BUILD, self.events)
        wheel = backend.build_editable(out)
        ended = time.time_ns()  # ...to here
        problem = _wheel.problem(wheel)
        if problem is not None:
            raise BuildError(
                backend.name, "build_editable", plan.source, f"{wheel.name}: {problem}"
            )
        after = _tree.scan(plan.source, plan.skip, plan.tree)
        side_effects = after.side_effects(plan.tree)
        self.events.emit(
            Op.BUILD, Phase.END, plan.entry_name, wheel=wheel.name, side_effects=len(side_effects)
        )
        manifest = {
            "format": 2,
            "key": plan.key,
            "revision": plan.revision,
            "source": str(plan.source),
            "backend": backend.name,
            "wheel": wheel.name,
            "size": wheel.stat().st_size,
            "sha256": _tree.file_digest(wheel),
            "side_effects": side_effects,
            "added": after.added_by_build(plan.tree, started, ended),
            "created_wall": time.time(),
        }
        return Entry(out, manifest)

    def _publish(self, plan: Plan, built: Entry) -> tuple[Phase, Entry | None]:
        """Publish our build: write its manifest, then move it into place (taking the entry
        lock unless the whole install holds it); return what happened and the entry now at
        the entry's path (None: not known). ``none`` built in place: writing the manifest is
        all its publish. Ours is installed already, so an entry lock not had in time costs
        the cache this build, not the install."""
        write_manifest(built.path, built.manifest)
        if not self.locking.atomic:
            return Phase.IN_PLACE, built
        lock = None
        if self.locking.entry is EntryLock.PUBLISH:
            lock = self.cache.entry_lock(plan.key)
        try:
            outcome, existing = self.cache.publish(built.path, plan.entry_dir, read_entry, lock)
        except LockTimeout as exc:
            message = f"{plan.entry_name} not published: {exc}"
            self.events.emit(Op.BUILDER, Phase.WARNED, message=message)
            print(f"warning: {message}", file=sys.stderr)
            return Phase.UNPUBLISHED, None
        return outcome, existing or Entry(plan.entry_dir, built.manifest)

    def _install(self, plan: Plan, entry: Entry) -> str | None:
        """Install ``entry`` into the venv and import the module there; where it came from."""
        name = plan.entry_name
        self.events.emit(Op.INSTALL, Phase.START, name, wheel=entry.manifest["wheel"])
        venv = self.req.venv.absolute()
        _install.ensure_venv(venv, self.req.python)
        _failpoints.hit(Failpoint.MID_INSTALL, self.events)
        _install.install_wheel(entry.wheel, venv)
        module = self.req.module
        imported = _install.check_import(venv, module) if module else None
        self.events.emit(Op.INSTALL, Phase.END, name, imported_from=imported)
        return imported


def _result(plan: Plan, entry: Entry, publish: Phase | None, imported: str | None) -> Installed:
    wheel = str(entry.manifest["wheel"])
    revision = str(entry.manifest.get("revision", plan.revision))  # a hit's may be older
    hit = publish is None
    return Installed(plan.key, revision, hit, publish, wheel, entry.side_effects, imported)
