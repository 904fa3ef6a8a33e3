"""The differential fuzzer: seeded random edits to a project tree at one path, an install by each
subject after every edit, in that tree (what a build writes there stays, as in a developer's
tree or a CI workspace kept between jobs) and on a cache of its own kept across the edits, and
every install judged by the checker against a cold build of the tree as it then is (the oracle).

    cachelab fuzz hatchling --subjects narrow,coalesce --edits 500 --seed 7
    cachelab fuzz --project attrs-26.1.0.tar.gz --edits 200

The start is the template rendered, or the project copied, made a git checkout of one commit
where it is none (as CI's checkouts are, so that commits and tags are edits too); each subject
gets a copy of it, installed once before the first edit. Each subject's edits come from a random
source of its own seeded alike, so ``--seed S --edits K`` replays the same K edits on the same
start: the K-th install of a report is replayed by its command (a build's own files in the tree
can make two subjects' edits part ways; each replays its own). A run of each install is kept
where the checker found anything in it; the others are removed once judged, their lines kept in
the record.

Besides stale installs (an install the checker judged invalid), the record counts how often each
subject reused its cache where the edit changed nothing a cold build gives (the oracle's
description equal to the one before): the price of a revision that misses nothing.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lab import scenario as scenarios
from lab.campaigns.fuzz import edits
from lab.campaigns.fuzz.record import (
    Install,
    Settings,
    broken,
    exit_code,
    failed,
    markdown,
    save,
    stale,
)
from lab.check import oracle as recorded
from lab.contract import Op, Phase
from lab.log import log
from lab.projects import source as sources
from lab.projects.project import open_project
from lab.run import Lab, Run
from lab.rundir import CampaignDir, CampaignKind, RunDir, read_history
from lab.vocabulary import RunStatus, Verdict, runner_names

__all__ = [
    "OVERRIDES",
    "SCENARIO",
    "Install",
    "Settings",
    "broken",
    "exit_code",
    "failed",
    "markdown",
    "run",
    "stale",
]

# Each install runs the scenario: runners at one path on one cache, here with builds
# that do not sleep (the edits make the work).
SCENARIO = "issue-15380"
# One runner: its tree is edited in place between installs, as one developer's or one CI
# workspace's; N runners would share that tree (a shared tree, uv #13703), not a checkout each.
OVERRIDES = ("build_delay=0", "runners=1")
_START = "start"  # the part that holds the tree every subject's copy starts from


def _start(settings: Settings, tree: Path) -> None:
    """The template rendered or the project copied at ``tree``, as a git checkout of its own
    (only a ``.git`` directory in the copy counts: a ``.git`` file or link names another
    repository, where the edits' commits and tags must never land)."""
    s = settings.scenario
    source = sources.of(s.project, s.template)
    source.render(tree, source.marked(s.template_params(0)))
    dot_git = tree / ".git"
    if dot_git.is_symlink() or dot_git.is_file():
        dot_git.unlink()
    if not dot_git.is_dir():
        for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fuzz: the start"]):
            subprocess.run([*edits.GIT, *argv], cwd=tree, check=True, capture_output=True)


def _hit(run_dir: RunDir, runners: Sequence[str]) -> bool | None:
    """Whether a runner's first lookup found the install in the cache (a wait for another
    runner's build of this tree is no reuse); None where the subject reports no lookups."""
    first: dict[str, Phase] = {}
    for e in read_history(run_dir.history):
        if e.op is Op.LOOKUP and e.runner in runners and e.phase in (Phase.HIT, Phase.MISS):
            first.setdefault(e.runner, e.phase)
    return any(phase is Phase.HIT for phase in first.values()) if first else None


def _cold(run_dir: RunDir) -> recorded.ColdBuild | None:
    """What the oracle said the tree gives; None where it could not say."""
    said = recorded.load(run_dir.oracle)
    first = said[sorted(said)[0]] if said else None
    return None if first is None or first.installed is None else first


def _changed(before: recorded.ColdBuild | None, now: recorded.ColdBuild | None) -> bool | None:
    """Whether two cold builds differ in anything but what no tree determines."""
    if before is None or now is None or before.installed is None or now.installed is None:
        return None
    unstable = before.unstable | now.unstable
    return bool(recorded.differences(before.installed, now.installed, unstable))


def _keep(run_dir: RunDir, checkouts: Sequence[str]) -> None:
    """Make a kept run's checkouts copies of the tree as it was judged: they are links to a
    tree the next edits change."""
    for link in map(run_dir.checkout, checkouts):
        if link.is_symlink():
            target = link.resolve()
            link.unlink()
            shutil.copytree(target, link, symlinks=True, ignore=shutil.ignore_patterns(".venv"))


class _Subject:
    """One subject's tree, edits and installs."""

    def __init__(self, lab: Lab, settings: Settings, out: CampaignDir, subject: str) -> None:
        self.lab = lab
        self.settings = settings
        self.subject = subject
        self.part = out.part(subject)
        self.part.cache.mkdir(parents=True, exist_ok=True)
        shutil.copytree(out.part(_START).tree, self.part.tree, symlinks=True)
        self.rng = random.Random(settings.seed)
        self.scenario = scenarios.with_changes(
            settings.scenario, "cachelab fuzz", subject=subject, project=str(self.part.tree)
        )
        self.edits: list[str] = []
        self.cold: recorded.ColdBuild | None = None  # the cold build it last saw

    def edit(self, index: int) -> str:
        made = str(edits.apply(self.rng, self.part.tree, index))
        self.edits.append(made)
        return made

    def install(self, index: int) -> Install:
        in_place = dataclasses.replace(open_project(self.part.tree), in_place=True)
        one = Run(
            self.lab.under(self.part.runs),
            self.scenario,
            cache=self.part.cache,
            checkouts_from=in_place,
        )
        result = one.execute()
        assert one.run_dir is not None
        run_dir = one.run_dir
        cold, before = _cold(run_dir), self.cold
        self.cold = cold
        found: list[tuple[str, str | None]] = [(v.message, str(v.kind)) for v in result.violations]
        found += [(u.reason, None) for u in result.unknowns]
        runners = runner_names(self.scenario.runners)
        hit = _hit(run_dir, runners)
        keep = result.verdict is not Verdict.VALID or result.status is not RunStatus.OK
        if keep:
            _keep(run_dir, runners)  # a checkout each, named as its runner
        else:
            shutil.rmtree(run_dir.path, ignore_errors=True)
        first, kind = found[0] if found else (None, None)
        return Install(
            edit=index,
            subject=self.subject,
            status=result.status,
            verdict=result.verdict,
            hit=hit,
            output_changed=_changed(before, cold),
            cold_built=cold is not None,
            found=first,
            kind=kind,
            kept=str(run_dir.path) if keep else None,
        )


def run(lab: Lab, settings: Settings) -> tuple[CampaignDir, list[Install]]:
    """Fuzz ``settings.scenario``'s project; the campaign directory and every install."""
    out = CampaignDir.create(lab.runs_dir, CampaignKind.FUZZ, settings.scenario.name)
    _start(settings, out.part(_START).tree)
    fuzzed = [_Subject(lab, settings, out, subject) for subject in settings.subjects]
    done: list[Install] = []
    try:
        for index in range(settings.edits + 1):
            for one in fuzzed:
                if index:
                    log(f"{one.subject}, edit {index}/{settings.edits}: {one.edit(index)}")
                done.append(one.install(index))
                if stale(done[-1]):
                    log(f"STALE: {one.subject} after edit {index}: {done[-1].found}")
    finally:  # an interrupted campaign keeps what it found
        save(out, settings, {one.subject: one.edits for one in fuzzed}, done)
    return out, done
