"""What a run writes into its directory before anything starts, as its plan says: the record
of what it is (scenario, faults, where it runs, what each runner must find), the cache (or a
link to a shared one) and the runners' views of it, the checkouts, the runners' own dirs."""

from __future__ import annotations

import contextlib
import json

from lab import nemesis
from lab.nemesis import mounts
from lab.projects import checkouts, identity
from lab.run.environment import environment
from lab.run.plan import Plan
from lab.rundir import MOUNT_REGISTRY


def lay_out(plan: Plan, stack: contextlib.ExitStack, backend: str) -> None:
    """Write what ``plan`` says into its run directory before anything starts (``backend``:
    where it runs, said for the record); the fault mounts it makes are ``stack``'s to
    unmount."""
    run_dir = plan.run_dir
    if plan.cache == run_dir.cache:
        run_dir.cache.mkdir()
    else:  # a cache shared with other runs: the checker reads it as the run's own
        run_dir.cache.symlink_to(plan.cache)
    if plan.views_to_make:  # each runner's own view of the cache, unmounted on every way out
        registry = run_dir.path.parent / MOUNT_REGISTRY
        mounts.reap(registry)  # what an orchestrator that was killed left mounted
        made = stack.enter_context(mounts.FaultMounts(registry))
        for view in plan.views_to_make.values():
            made.bindfs(plan.cache, view)
    run_dir.scenario.write_text(plan.scenario.model_dump_json(indent=2) + "\n")
    nemesis.save(run_dir.faults, plan.faults)
    told = environment(run_dir.cache, subject=plan.subject.label, backend=backend)
    run_dir.environment.write_text(json.dumps(told, indent=2) + "\n")
    run_dir.logs.mkdir()
    for name, params in plan.checkouts.items():
        checkouts.render(plan.source, run_dir.checkout(name), params)
    for name, runner in plan.runners.items():
        run_dir.checkout(runner.checkout).mkdir(parents=True, exist_ok=True)  # a cache step's
        run_dir.tmp(name).mkdir(parents=True)
        run_dir.home(name).mkdir(parents=True)
        for rel, text in runner.home_files.items():
            path = run_dir.home(name) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    identity.save(run_dir.identities, dict(plan.identities))
