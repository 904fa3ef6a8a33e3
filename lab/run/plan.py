"""What one run of a scenario will do, worked out before anything is written or started:

    plan = make_plan(scenario, subject, backend, inputs)

the checkouts and what each is rendered with, each runner's view, placement and command
(``RunnerSpec``), what each runner must find installed (``Identity``), the faults in force,
and each of the scenario's steps with everything it will need, each runner's start time
included. It writes nothing and starts nothing (a backend's ``view`` writes nothing either):
the run directory it names is still empty. So the run that executes a plan goes down
from here, never back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.contract import FAILPOINTS_ENV
from lab.nemesis import RunFaults
from lab.projects.identity import Identity
from lab.projects.template import Template
from lab.resources import PROBE
from lab.run.steps import PlannedStep, Seat, plan_steps
from lab.rundir import RunDir
from lab.runners.base import Backend, RunnerSpec, ViewRequest
from lab.runners.view import Mount, RunnerView
from lab.scenario import Scenario
from lab.subjects import Subject
from lab.vocabulary import StepKind, Topology, runner_names

# Every runner runs the subject, then the lab's probe, whatever the subject did: the probe
# reports what the venv holds (lab.probe). The runner's exit code stays the subject's.
_THEN_PROBE = (
    "sh",
    "-c",
    'set +e; "$@"; rc=$?; "$CACHELAB_PYTHON" -I -S "$CACHELAB_PROBE" "$CACHELAB_VENV" '
    '"$CACHELAB_PROBE_SPEC" "$CACHELAB_RUNNER"; exit $rc',
    "sh",
)
SHARED_CHECKOUT = "shared"  # the one checkout of a shared tree


@dataclass(frozen=True)
class Inputs:
    """What a plan is made from besides the scenario: the run's directory and the things the
    host found for it."""

    run_dir: RunDir
    template: Template
    resources: Mapping[str, Path]  # name -> host directory
    binaries: frozenset[str]
    cache: Path  # the host directory runners share as the cache (the run's, or a campaign's)
    faults: RunFaults


@dataclass(frozen=True)
class RunnerPlan:
    checkout: str  # the name of the checkout it sees
    view: RunnerView
    spec: RunnerSpec
    home_files: Mapping[str, str]  # written into its HOME before it starts


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    subject: Subject
    run_dir: RunDir
    template: Template
    faults: RunFaults  # as in force: with the views of locks that lie, where the scenario asks
    cache: Path
    checkouts: Mapping[str, Mapping[str, Any]]  # name -> what it is rendered with at first
    runners: Mapping[str, RunnerPlan]  # the scenario's runners, then the cache steps' own
    identities: Mapping[str, Identity]  # the scenario's runners: what each must find at first
    steps: tuple[PlannedStep, ...]
    # runner -> its view of the cache, whose locks do not exclude the others', for the run to
    # mount (the scenario's ``locks = "lie"``, where no campaign mounted views of its own)
    views_to_make: Mapping[str, Path]


def make_plan(scenario: Scenario, subject: Subject, backend: Backend, inputs: Inputs) -> Plan:
    names = runner_names(scenario.runners)
    views = {}
    if makes_views(scenario, inputs.faults):
        views = {name: inputs.run_dir.view(name) for name in names}
    faults = inputs.faults
    if views:
        faults = dataclasses.replace(
            faults, cache_views=views, locks_exclude=False, note="locks that lie"
        )
    shared = scenario.topology is Topology.SHARED_TREE
    # one physical tree mounted into every runner, or a checkout each
    chosen = {name: SHARED_CHECKOUT if shared else name for name in names}
    # each rendered with its parameters' marker: checkouts alike are alike, across runs too
    checkouts = {
        checkout: inputs.template.marked(scenario.template_params(i))
        for i, checkout in enumerate(dict.fromkeys(chosen.values()))
    }
    maker = _Runners(scenario, subject, backend, dataclasses.replace(inputs, faults=faults))
    runners = {name: maker.runner(name, chosen[name]) for name in names}
    identities = {
        name: inputs.template.identity(checkouts[r.checkout], r.view.src, r.checkout)
        for name, r in runners.items()
    }
    cache_runners: dict[str, RunnerPlan] = {}

    def cache_runner(name: str, kind: StepKind) -> bool:
        made = maker.cache_runner(name, kind)
        if made is not None:
            cache_runners[name] = made
        return made is not None

    seats = {name: Seat(r.checkout, r.view.src) for name, r in runners.items()}
    steps = plan_steps(
        scenario, seats, checkouts, inputs.template, inputs.faults.start_delays, cache_runner
    )
    return Plan(
        scenario=scenario,
        subject=subject,
        run_dir=inputs.run_dir,
        template=inputs.template,
        faults=faults,
        cache=inputs.cache,
        checkouts=checkouts,
        runners={**runners, **cache_runners},
        identities=identities,
        steps=steps,
        views_to_make=views,
    )


def makes_views(scenario: Scenario, faults: RunFaults) -> bool:
    """Whether the run mounts its runners' own views of the cache: its locks must lie, and
    no campaign mounted views of its own."""
    return scenario.locks == "lie" and not faults.cache_views


class _Runners:
    """Each runner's view, command, mounts and environment."""

    def __init__(
        self, scenario: Scenario, subject: Subject, backend: Backend, inputs: Inputs
    ) -> None:
        self.scenario = scenario
        self.subject = subject
        self.backend = backend
        self.inputs = inputs

    def runner(self, name: str, checkout: str) -> RunnerPlan:
        path = self.scenario.checkout_path
        if self.scenario.topology is Topology.DIFFERENT_PATHS:
            path += f"-{name}"
        view = self._view(name, path)
        argv = [*_THEN_PROBE, *self.subject.argv(view)]
        return self._planned(name, checkout, view, argv)

    def cache_runner(self, name: str, kind: StepKind) -> RunnerPlan | None:
        """A runner of its own that runs the subject's cache prune or clean on the shared
        cache, as another CI job would (its checkout is empty); None where the subject has
        no such command."""
        view = self._view(name, self.scenario.checkout_path)
        argv = self.subject.cache_argv(kind, view)
        return None if argv is None else self._planned(name, f".{name}", view, argv)

    def _view(self, name: str, checkout_path: str) -> RunnerView:
        i = self.inputs
        return self.backend.view(
            ViewRequest(i.run_dir, name, checkout_path, i.resources, i.binaries)
        )

    def _planned(self, name: str, checkout: str, view: RunnerView, argv: list[str]) -> RunnerPlan:
        i = self.inputs
        cache = i.faults.cache_views.get(name, i.cache)
        mounts = [
            Mount(i.run_dir.checkout(checkout), view.src),
            Mount(cache, view.cache, read_only=i.faults.cache_read_only),
            Mount(i.run_dir.tmp(name), view.tmp),
            Mount(i.run_dir.home(name), view.home),
            *view.mounts,
        ]
        spec = RunnerSpec(
            name=name,
            argv=argv,
            env=self._env(name, view),
            workdir=view.src,
            mounts=mounts,
            tmpfs=(f"{view.src}/.venv",),
            log_path=i.run_dir.log(name),
            node=self._node(name),
        )
        return RunnerPlan(checkout, view, spec, i.template.home_files(view))

    def _env(self, name: str, view: RunnerView) -> dict[str, str]:
        template = self.inputs.template
        env = {
            **self.subject.env(view),
            **template.runner_env(view),
            "CACHELAB_PYTHON": view.python,
            "CACHELAB_PROBE": view.resources[PROBE],
            "CACHELAB_PROBE_SPEC": template.probe_spec(view.src),
            "CACHELAB_VENV": f"{view.src}/.venv",
            "CACHELAB_RUNNER": name,
        }
        armed = (self.scenario.failpoints.get(name), self.inputs.faults.failpoints.get(name))
        failpoints = ",".join(filter(None, armed))
        if failpoints:
            env[FAILPOINTS_ENV] = failpoints
        return env

    def _node(self, name: str) -> int | None:
        """The node the scenario puts runner ``name`` on, where it says (``runners_per_node``)."""
        per_node = self.scenario.runners_per_node
        names = runner_names(self.scenario.runners)
        return names.index(name) // per_node if per_node and name in names else None
