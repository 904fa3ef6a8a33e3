"""What a cold build of each runner's checkout gives, asked of the oracle (``lab.oracle``)
before a run step starts its runners, and recorded in the run directory (``RunDir.oracle``)
for the checker, which then judges from the directory alone and never builds.

The oracle caches by content: a checkout's digest is computed each time (cheap), a tree seen
before on this machine costs describing its kept installs again (where each runner sees it:
that path is ``{checkout}`` in the texts, as in the runner's own description), and a
distinct tree costs one build (two at once). Checkouts rendered alike are alike
(``Template.marked``), so a run of N identical checkouts builds once, at one path or at N.
The time it takes is not the runners': the run's deadline moves by it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.check import oracle as recorded
from lab.errors import LabError
from lab.log import log
from lab.oracle import Oracle, OracleError, host_python, tree_digest
from lab.projects.project import Project
from lab.projects.source import Source
from lab.projects.template import NO_DELAY_ENV
from lab.run.plan import Plan
from lab.runners.local import host_bin_dir
from lab.runners.view import SYSTEM_PATH, RunnerView
from lab.toolchain import Toolchain

ORACLE_DIR = "oracle"  # under the toolchain's root: .lab/oracle


def oracle_for(toolchain: Toolchain, source: Source, resources: Mapping[str, Path]) -> Oracle:
    """The lab's oracle, its hooks given what ``source``'s runners get for its build, found on
    the host as a local runner finds it: the programs it needs on PATH before the system's
    (one the host lacks is left out: that build then fails, and says so), a HOME of the
    oracle's own with the files the build needs there (cargo's vendored crates), its
    environment (CARGO_HOME), never a runner's, and no build delay."""
    root = toolchain.root / ORACLE_DIR
    found = [b for b in sorted(source.needs.binaries) if shutil.which(b) is not None]
    bins = [str(host_bin_dir(binary)) for binary in found]
    view = RunnerView(
        runner="oracle",
        src="",
        cache="",
        tmp=str(root / "scratch"),
        home=str(root / "home" / source.key),
        python=str(host_python()),
        resources={name: str(path) for name, path in resources.items()},
        bin_path=os.pathsep.join(dict.fromkeys([*bins, SYSTEM_PATH])),
    )
    for rel, text in source.home_files(view).items():
        path = Path(view.home) / rel
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(text)
            tmp.replace(path)
    environ = {**source.runner_env(view), NO_DELAY_ENV: "1"}
    return Oracle(
        root, toolchain.wheelhouse, environ=environ, path=view.bin_path, home=Path(view.home)
    )


def named(oracle: Oracle, source: Source) -> Source:
    """``source``, and where it is a project whose files do not name its distribution (a
    setup.py alone), the project as the oracle's cold build of a copy of it names it."""
    if not isinstance(source, Project) or source.statics.name is not None:
        return source
    scratch = oracle.root / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="project-") as place:
        tree = Path(place) / source.path.name.removesuffix(".tar.gz")
        source.render(tree, {})
        said = _cold_build(oracle, tree)
    if said.installed is None:
        for line in (said.detail or "").splitlines():
            log(f"  {line}")  # the backend's last lines: the error itself is one line
        raise LabError(f"{source.name}: its files do not name it, and {said.error}")
    statics = dataclasses.replace(source.statics, name=str(said.installed["name"]))
    return dataclasses.replace(source, statics=statics)


def _cold_build(oracle: Oracle, tree: Path, checkout: str | None = None) -> recorded.ColdBuild:
    """What the oracle says of ``tree``, seen at ``checkout`` by a runner; where it cannot
    say, why (one line, logged) and its detail, recorded: the runners are judged on, unknown
    where one claims success."""
    try:
        return oracle.expected(tree, checkout)
    except OracleError as exc:
        log(f"oracle: {exc}")
        try:
            digest = tree_digest(tree)
        except OracleError:  # the tree cannot be read: that is what exc says
            digest = ""
        return recorded.ColdBuild(digest, None, error=str(exc), detail=exc.detail or None)


def record(oracle: Oracle, plan: Plan, runners: Sequence[str]) -> float:
    """Ask the oracle for each of ``runners``' checkouts as they are now, seen where each
    runner sees it, and record what it says beside what earlier steps recorded; the seconds
    it took."""
    started = time.monotonic()
    run_dir = plan.run_dir
    said = recorded.load(run_dir.oracle)
    by_place: dict[tuple[str, str], recorded.ColdBuild] = {}
    for runner in runners:
        planned = plan.runners[runner]
        place = (planned.checkout, planned.view.src)
        if place not in by_place:  # one build per content: each view is described apart
            by_place[place] = _cold_build(oracle, run_dir.checkout(place[0]), place[1])
        said[runner] = by_place[place]
    recorded.save(run_dir.oracle, said)
    return time.monotonic() - started
