"""The fault campaign: seeded trials of faults on one scenario, for each subject, every run
judged by the independent checker.

A trial is a faulted run and then a clean follow-up run on the same cache (the read-only fault
first fills the cache with a clean run). Its outcome is the worst the checker said of any of
its runs and runners (valid < failed-clean < unknown < invalid); it *recovered* when the
follow-up is valid; what it *leaked* is whatever is still there after the follow-up: scratch
dirs its sweep left, containers or processes of its runs, fault mounts.

Everything goes into its campaign directory (``torture-<scenario>-<time>/``): each trial's
own directory (``PartDir``: its cache, runs and views), the record (the seed, the subjects,
the whole schedule, each trial's outcome and first violation) and its summary. ``--trial K``
replays trial K alone, exactly: its schedule depends only on the seed and K.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import scenario as scenarios
from lab import subjects
from lab.contract import SCRATCH_DIR, SCRATCH_GRACE_S, Op, Phase
from lab.errors import ExitCode, LabError, UsageError
from lab.log import log
from lab.nemesis import RunFaults, mounts
from lab.nemesis.schedule import Fault, ScheduledTrial, scheduled
from lab.report import html
from lab.result import RunResult
from lab.run import Lab
from lab.rundir import MOUNT_REGISTRY, CampaignDir, CampaignKind, RunDir, read_history
from lab.vocabulary import OUTCOME_SEVERITY, Outcome, Verdict, runner_names, worst

_FS_FAULTS = (Fault.ENOSPC, Fault.LIAR)  # made with mounts on the host
_ROOMY_MB = 4096.0  # the small file system's size for the follow-up


@dataclass(frozen=True)
class Settings:
    scenario: scenarios.Scenario  # as the faulted runs run it (build delay, lock timeout)
    subjects: tuple[str, ...]
    faults: tuple[Fault, ...]
    trials: int
    seed: int
    pause_s: tuple[float, float] = (1.0, 15.0)
    only_trial: int | None = None  # replay this one trial


@dataclass(frozen=True)
class TrialResult:
    subject: str
    trial: int
    fault: Fault | None
    what: str
    outcome: Outcome
    recovered: bool
    leaked: list[str]
    first_violation: str | None
    runs: list[str]  # run directories, relative to the campaign's
    # whether a kill or pause struck (a failpoint armed in a runner that never reaches it
    # strikes nothing); None for the file system's faults, in force for the whole run
    struck: bool | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


class _Trial:
    """One trial of one subject: its runs, its mounts, its cache."""

    def __init__(
        self, settings: Settings, spec: ScheduledTrial, subject: str, context: _Context
    ) -> None:
        self.spec = spec
        self.context = context
        self.scenario = scenarios.with_changes(
            settings.scenario, f"--subjects {subject}", subject=subject
        )
        # the warm-up and the follow-up are clean: not even the scenario's own failpoints
        self.clean = self.scenario.model_copy(update={"failpoints": {}})
        made = subjects.make(subject, self.scenario.subject_settings())
        self.failpoints = made.failpoints
        self.dir = context.out.part(f"{_slug(subject)}-{spec.trial:02d}")
        self.lab = context.lab.under(self.dir.runs)
        self.results: list[RunResult] = []

    def _run(self, faults: RunFaults | None = None) -> RunResult:
        """A faulted run with ``faults``, else a clean one."""
        result = self.lab.run(
            self.scenario if faults is not None else self.clean,
            cache=self.dir.cache,
            faults=faults or RunFaults(note="clean"),
        )
        self.results.append(result)
        return result

    def play(self) -> TrialResult:
        fault = self.spec.fault
        with mounts.FaultMounts(self.context.registry) as made:
            if fault is Fault.ENOSPC:
                made.tmpfs(self.dir.cache, self.spec.size_mb)
            else:
                self.dir.cache.mkdir(parents=True)
            names = runner_names(self.scenario.runners)
            faults = self.spec.run_faults(self.failpoints, names)
            note = self.spec.describe(self.failpoints)
            if fault is Fault.READONLY:
                self._run()  # a clean run fills the cache
                faults = RunFaults(cache_read_only=True, note=note)
            if fault is Fault.LIAR:
                views = made.lying_views(self.dir.cache, self.dir.views, names)
                faults = RunFaults(cache_views=views, locks_exclude=False, note=note)
            faulted = self._run(faults)
            struck = None
            if fault in (Fault.KILL, Fault.PAUSE):
                events = read_history(RunDir(self.dir.runs / faulted.run_id).history)
                struck = any(e.op is Op.FAULT and e.phase is Phase.STRUCK for e in events)
            if any(r.rc is None or not 0 <= r.rc <= 128 for r in faulted.runners):
                # a killed builder's scratch dir is a sweeper's once its heartbeat is old
                time.sleep(SCRATCH_GRACE_S + 0.5)
            if fault is Fault.LIAR:
                made.unmount_all()  # the follow-up sees the cache itself
            if fault is Fault.ENOSPC:
                made.resize(self.dir.cache, _ROOMY_MB)
            follow_up = self._run()
            leaked = self._leaked()
            if fault is Fault.ENOSPC:
                _keep_content(made, self.dir.cache)
        leaked += [
            f"mount {p}" for p in self.dir.path.rglob("*") if p.is_dir() and mounts.mounted(p)
        ]
        violations = [v.message for r in self.results for v in r.violations]
        return TrialResult(
            subject=self.scenario.subject,
            trial=self.spec.trial,
            fault=fault,
            what=self.spec.describe(self.failpoints),
            outcome=worst(r.outcome for r in self.results),
            recovered=follow_up.verdict is Verdict.VALID
            and all(r.outcome is Outcome.VALID for r in follow_up.runners),
            leaked=leaked,
            first_violation=violations[0] if violations else None,
            runs=[
                str((self.dir.runs / r.run_id).relative_to(self.context.out.path))
                for r in self.results
            ],
            struck=struck,
        )

    def _leaked(self) -> list[str]:
        scratch = self.dir.cache / SCRATCH_DIR
        left = []
        if scratch.is_dir():
            left = [f"scratch {p.name}" for p in sorted(scratch.iterdir()) if p.is_dir()]
        for result in self.results:
            left += self.lab.backend.leftovers(RunDir(self.dir.runs / result.run_id))
        return left


def _keep_content(made: mounts.FaultMounts, cache: Path) -> None:
    """Unmount the small file system but keep what the runs left on it, for the record."""
    with tempfile.TemporaryDirectory(prefix="cachelab-keep-") as keep:
        kept = Path(keep) / "kept"
        shutil.copytree(cache, kept, symlinks=True)
        made.unmount_all()
        shutil.copytree(kept, cache, symlinks=True, dirs_exist_ok=True)


@dataclass(frozen=True)
class _Context:
    out: CampaignDir
    lab: Lab
    registry: Path  # where fault mounts are recorded until they are gone


def run(lab: Lab, settings: Settings) -> tuple[CampaignDir, list[TrialResult]]:
    """Play the campaign, its trials in a campaign directory of its own; an interrupted one
    still records, and draws, what it finished."""
    chosen = _schedule(settings)
    registry = lab.runs_dir / MOUNT_REGISTRY
    for leftover in mounts.reap(registry):
        log(f"removed a fault mount left by an orchestrator that is gone: {leftover}")
    out = CampaignDir.create(lab.runs_dir, CampaignKind.TORTURE, settings.scenario.name)
    context = _Context(out, lab, registry)
    results: list[TrialResult] = []
    try:
        for spec in chosen:
            for subject in settings.subjects:
                results.append(_play(settings, spec, subject, context))
    finally:
        record = {
            "scenario": settings.scenario.name,
            "seed": settings.seed,
            "backend": lab.backend.name,
            "subjects": list(settings.subjects),
            "faults": list(settings.faults),
            "trials": settings.trials,
            "replayed": settings.only_trial,
            "settings": {
                "build_delay_s": settings.scenario.build_delay,
                "lock_timeout_s": settings.scenario.lock_timeout,
                "pause_s": list(settings.pause_s),
            },
            "schedule": [asdict(p) for p in chosen],
            "results": [asdict(r) for r in results],
        }
        out.record.write_text(json.dumps(record, indent=2, default=str) + "\n")
        out.summary.write_text(markdown(settings, lab.backend.name, results) + "\n")
        html.render_torture(out)
    return out, results


def _schedule(settings: Settings) -> list[ScheduledTrial]:
    """The trials to play, each scheduled from the seed alone; UsageError (or LabError, where
    a fault cannot be made here) before anything is written."""
    if any(f in _FS_FAULTS for f in settings.faults) and (why := mounts.available()):
        raise LabError(f"the faults {', '.join(_FS_FAULTS)} cannot be made here: {why}")
    if settings.scenario.steps:  # a fault strikes a run, and a trial is a run and its follow-up
        raise UsageError(
            f"scenario {settings.scenario.name} has steps; the fault campaign takes a single run"
        )
    if settings.only_trial is not None and not 1 <= settings.only_trial <= settings.trials:
        raise UsageError(f"--trial {settings.only_trial}: choose 1 to {settings.trials}")
    names = runner_names(settings.scenario.runners)
    trials = [
        scheduled(
            settings.seed,
            k,
            faults=settings.faults,
            runners=names,
            build_delay=settings.scenario.build_delay,
            pause_s=settings.pause_s,
        )
        for k in range(1, settings.trials + 1)
    ]
    return [t for t in trials if settings.only_trial in (None, t.trial)]


def _play(settings: Settings, spec: ScheduledTrial, subject: str, context: _Context) -> TrialResult:
    """One trial of one subject; one that could not be played is unknown."""
    try:
        result = _Trial(settings, spec, subject, context).play()
    except LabError as exc:
        result = TrialResult(
            subject, spec.trial, spec.fault, str(exc), Outcome.UNKNOWN, False, [], str(exc), []
        )
    log(
        f"trial {spec.trial} · {subject} · {result.what}"
        f"{' (not struck)' if result.struck is False else ''}: {result.outcome}"
        f"{', recovered' if result.recovered else ', NOT recovered'}"
        f"{f', leaked {len(result.leaked)}' if result.leaked else ''}"
    )
    return result


def markdown(settings: Settings, backend: str, results: Sequence[TrialResult]) -> str:
    timeout = settings.scenario.lock_timeout
    lines = [
        f"Fault campaign on `{settings.scenario.name}`, seed {settings.seed}, {backend} backend, "
        f"build delay {settings.scenario.build_delay:g} s, lock timeout "
        + (f"{timeout:g} s." if timeout else "none."),
        "",
        "| trial | subject | fault | outcome | recovered | leaked | first violation |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        first = (r.first_violation or "").replace("|", "\\|")
        lines.append(
            f"| {r.trial} | {r.subject} | {r.what}"
            f"{' (**not struck**)' if r.struck is False else ''} | {r.outcome} | "
            f"{'yes' if r.recovered else '**no**'} | {len(r.leaked) or ''} | {first} |"
        )
    lines.append("")
    for subject in settings.subjects:
        mine = [r for r in results if r.subject == subject]
        counts = {o: sum(r.outcome is o for r in mine) for o in OUTCOME_SEVERITY}
        summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
        recovered = sum(r.recovered for r in mine)
        leaked = sum(bool(r.leaked) for r in mine)
        missed = sum(r.struck is False for r in mine)
        lines.append(
            f"- {subject}: {summary}; {recovered} of {len(mine)} recovered; {leaked} leaked"
            + (f"; {missed} planned fault(s) struck nothing." if missed else ".")
        )
    return "\n".join(lines)


def exit_code(results: Sequence[TrialResult]) -> int:
    if any(r.outcome is Outcome.INVALID or r.leaked for r in results):
        return ExitCode.FAILED
    if any(r.outcome is Outcome.UNKNOWN for r in results):
        return ExitCode.UNKNOWN
    return ExitCode.OK
