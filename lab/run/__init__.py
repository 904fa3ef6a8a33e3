"""Runs: where they happen (``Lab``), and one run of a scenario (``Run``), which executes its
plan (``plan``: made before anything is written into its directory) and records what
happened: its directory laid out (``layout``), runners started together (``together``), their
events stamped and published (``recorder``), where it ran (``environment``).

    lab = Lab(toolchain, backend, runs_dir)
    result = lab.run(scenario, subscribers=[progress.on_event])

Everything a run produces stays in its directory (``lab.rundir``): the resolved scenario, the
rendered checkouts, the shared cache, a log per runner, the history, what each runner must
find and what a cold build of its checkout gives (``expect``: the oracle, asked before each
run step), the faults in force, where it ran, and its result as the independent checker
judged it.
A scenario's steps are taken in turn on the same cache and checkouts. An interrupt still
leaves a result and no runner behind. A page or an archive is made by whoever asks for one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import check, subjects
from lab.contract import LAB_RUNNER, Op, Phase
from lab.errors import LabError, UsageError
from lab.nemesis import RunFaults, mounts
from lab.nemesis.process import ProcessNemesis
from lab.oracle import Oracle
from lab.projects import checkouts, identity, source
from lab.projects.project import Project
from lab.projects.source import Source
from lab.resources import PROBE
from lab.result import RunResult, summarize
from lab.run import expect
from lab.run.layout import lay_out
from lab.run.plan import Inputs, Plan, make_plan, makes_views
from lab.run.recorder import Recorder, Subscriber
from lab.run.steps import CacheStep, DeleteStep, EditStep, PlannedStep, RunStep
from lab.run.together import Together
from lab.rundir import HistoryWriter, RunDir
from lab.runners.base import Backend
from lab.runners.view import Needs
from lab.scenario import Scenario
from lab.subjects import Observation
from lab.toolchain import Toolchain
from lab.toolchain.extras import offline_check
from lab.vocabulary import RunStatus

__all__ = ["Lab", "Run", "Subscriber"]


@dataclass(frozen=True)
class Lab:
    """Where runs happen: the offline toolchain, a runner backend, a runs directory. Every
    campaign takes one."""

    toolchain: Toolchain
    backend: Backend
    runs_dir: Path

    def under(self, runs_dir: Path) -> Lab:
        """This lab with its runs in ``runs_dir`` (a campaign's own)."""
        return dataclasses.replace(self, runs_dir=runs_dir)

    def run(
        self,
        scenario: Scenario,
        *,
        cache: Path | None = None,
        faults: RunFaults | None = None,
        subscribers: Iterable[Subscriber] = (),
    ) -> RunResult:
        """Run ``scenario`` once. ``cache``: an existing directory it shares with other runs
        (a campaign's trial, a cache kept across runs), else its own; ``faults``: what to
        strike beyond the scenario's own failpoints."""
        one = Run(self, scenario, cache=cache, faults=faults)
        for subscriber in subscribers:
            one.subscribe(subscriber)
        return one.execute()


class Run:
    def __init__(
        self,
        lab: Lab,
        scenario: Scenario,
        *,
        cache: Path | None = None,
        faults: RunFaults | None = None,
        checkouts_from: Source | None = None,
    ) -> None:
        """``checkouts_from``: where its checkouts come from, where not the scenario's own
        template or project (the fuzzer's tree, in place)."""
        self.lab = lab
        self.scenario = scenario
        self.shared_cache = cache
        self.faults = faults or RunFaults()
        self.source = checkouts_from or source.of(scenario.project, scenario.template)
        self.subject = subjects.make(scenario.subject, scenario.subject_settings())
        self.recorder = Recorder()
        self._nemesis = ProcessNemesis(self.faults.strikes) if self.faults.strikes else None
        if self._nemesis is not None:
            self.recorder.subscribe(self._nemesis)
        self._executed = False
        self.run_dir: RunDir | None = None  # once made

    def subscribe(self, subscriber: Subscriber) -> None:
        """See ``Recorder.subscribe``; the history is always written first."""
        self.recorder.subscribe(subscriber)

    def execute(self) -> RunResult:
        """Run the scenario once (a Run is not reusable). LabError after the run where a
        subscriber failed: the result is saved all the same."""
        if self._executed:
            raise LabError("a Run executes once; make a new one")
        self._executed = True
        resources, binaries = self._found()  # everything checked before anything is written
        oracle = expect.oracle_for(self.lab.toolchain, self.source, resources)
        self.source = expect.named(oracle, self.source)  # a project whose files name it not
        run_dir = self.run_dir = RunDir.create(self.lab.runs_dir, self.scenario.name)
        inputs = Inputs(
            run_dir=run_dir,
            source=self.source,
            resources=resources,
            binaries=binaries,
            cache=self.shared_cache.resolve() if self.shared_cache else run_dir.cache,
            faults=self.faults,
        )
        with contextlib.ExitStack() as stack:  # the fault mounts of locks that lie, if any
            try:
                plan = make_plan(self.scenario, self.subject, self.lab.backend, inputs)
                lay_out(plan, stack, self.lab.backend.name)
            except BaseException:  # incl. Ctrl-C: leave no half-prepared run directory behind
                stack.close()
                shutil.rmtree(run_dir.path, ignore_errors=True)
                raise
            return self._execute(plan, oracle)

    def _found(self) -> tuple[dict[str, Path], frozenset[str]]:
        """What the plan needs of this host (resources by name, binaries), found and checked:
        a missing resource, binary or mount is a clear error, and no run directory is made."""
        backend = self.lab.backend
        if self._nemesis is not None and not backend.live_output:
            raise UsageError(
                f"the {backend.name} backend hands on a runner's lines when it ends, so no "
                "fault can strike after an event of it: run faults on docker or local"
            )
        if backend.external_cache and self.shared_cache is None:
            raise UsageError(
                f"the runners' cache is {backend.external_cache}, so the run must read the "
                "same storage as a shared cache directory (--cache-dir)"
            )
        needs = self.subject.needs | self.source.needs | Needs(frozenset({PROBE}))
        found = {name: self.lab.toolchain.resource(name) for name in sorted(needs.resources)}
        if isinstance(self.source, Project):  # what its build needs, before runners fail on it
            offline_check(self.source, self.lab.toolchain.root)
        backend.check(needs.binaries)
        if makes_views(self.scenario, self.faults) and (why := mounts.available()):
            raise LabError(f"scenario {self.scenario.name} has locks that lie: {why}")
        return found, needs.binaries

    def _execute(self, plan: Plan, oracle: Oracle) -> RunResult:
        run_dir = plan.run_dir
        run_dir.point_latest()
        with HistoryWriter(run_dir.history) as writer:
            self.recorder.subscribe(writer, first=True)
            status = RunStatus.FAILED
            try:
                status = self._take_steps(plan, oracle)
            except KeyboardInterrupt:
                status = RunStatus.INTERRUPTED
                raise
            finally:
                writer.close()  # complete on disk: the checker reads the directory alone
                result = summarize(
                    self.recorder.events(),
                    run_id=run_dir.run_id,
                    scenario=self.scenario,
                    status=status,
                    backend=self.lab.backend.name,
                    subject=self.subject,
                    judgement=check.check(run_dir.path),
                )
                result.save(run_dir.result)
        if failures := self.recorder.failures():
            raise LabError("a subscriber of the run failed: " + "; ".join(failures))
        return result

    def _take_steps(self, plan: Plan, oracle: Oracle) -> RunStatus:
        """Take the plan's steps in turn; the run's status is its last run step's (a timeout
        or an interrupt ends it at once). Before a run step, the oracle says what its
        runners' checkouts give (``expect``), off the runners' clock."""
        together = Together(
            self.lab.backend,
            plan.run_dir.run_id,
            self.subject,
            self.recorder,
            self._nemesis,
            deadline=time.monotonic() + self.scenario.timeout,  # for the whole run
        )
        status = RunStatus.OK
        several = len(plan.steps) > 1
        for step in plan.steps:
            if isinstance(step.action, RunStep):
                spent = expect.record(oracle, plan, step.action.runners)
                together = dataclasses.replace(together, deadline=together.deadline + spent)
            said: dict[str, Any] = {"kind": step.kind, "steps": len(plan.steps)}
            if several:
                self._step_event(step, Phase.START, said)
            took = self._take(plan, step, together, said)
            if took is not None:
                status = took
            if took is RunStatus.TIMEOUT:
                break
            if several:
                self._step_event(step, Phase.END, said)
        return status

    def _take(
        self, plan: Plan, step: PlannedStep, together: Together, said: dict[str, Any]
    ) -> RunStatus | None:
        """Take one step; the status of the runners it ran, if it ran any that count."""
        action = step.action
        if isinstance(action, RunStep):
            starts = [(plan.runners[name].spec, delay) for name, delay in action.starts]
            return together.run(starts, action.runners)
        if isinstance(action, DeleteStep | EditStep):
            try:
                said.update(self._change_checkouts(plan, action))
            except checkouts.StepError as e:
                said["error"] = str(e)
                self._step_event(step, Phase.END, said)
                raise checkouts.StepError(
                    f"scenario {self.scenario.name}, steps[{step.index}] ({step.kind}): {e}"
                ) from None
            return None
        return self._cache_step(plan, action, together, said)

    def _cache_step(
        self, plan: Plan, action: CacheStep, together: Together, said: dict[str, Any]
    ) -> RunStatus | None:
        if action.runner is None:
            said["skipped"] = f"{self.subject.label} has no cache {said['kind']}"
            return None
        said["runner"] = action.runner  # its lane shows when it ran
        if action.during is not None:
            return None  # it runs beside the next run step
        ran = together.run([(plan.runners[action.runner].spec, 0.0)], [action.runner])
        return ran if ran is RunStatus.TIMEOUT else None

    def _change_checkouts(self, plan: Plan, action: DeleteStep | EditStep) -> dict[str, Any]:
        """A delete or an edit, in every chosen checkout; what it removed or wrote."""
        run_dir = plan.run_dir
        if isinstance(action, DeleteStep):
            removed = {
                name: checkouts.delete(run_dir.checkout(name), action.pattern)
                for name in action.checkouts
            }
            return {"removed": removed}
        written = {
            name: checkouts.edit(plan.source, run_dir.checkout(name), params)
            for name, params in action.renders.items()
        }
        identity.save(run_dir.identities, dict(action.identities))  # what each must find now
        return {"written": written}

    def _step_event(self, step: PlannedStep, phase: Phase, said: dict[str, Any]) -> None:
        self.recorder.record(LAB_RUNNER, Observation(Op.STEP, phase, f"step-{step.index}", said))
