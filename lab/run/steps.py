"""A scenario's steps, planned: what each will do when its turn comes. A run step knows whom
it starts and when; a delete, the checkouts it clears; an edit, what each chosen checkout is
rendered with from then on and what each runner must then find; a cache step, its own runner
(or that the subject has none), and whether it runs within the next run step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.projects.identity import Identity
from lab.projects.template import Template
from lab.scenario import Scenario, Step
from lab.vocabulary import StepKind


@dataclass(frozen=True)
class RunStep:
    """Runners run the subject together: ``runners`` are the step's own, whose exits are its
    status; ``starts``: every runner it starts, each so many seconds after the first (the
    scenario's stagger, a campaign's head start, a cache step's ``during``)."""

    runners: tuple[str, ...]
    starts: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class DeleteStep:
    pattern: str  # a glob inside each checkout
    checkouts: tuple[str, ...]


@dataclass(frozen=True)
class EditStep:
    renders: Mapping[str, Mapping[str, Any]]  # checkout -> what it is rendered with from now on
    identities: Mapping[str, Identity]  # runner -> what it must find from now on


@dataclass(frozen=True)
class CacheStep:
    """The subject's own cache prune or clean, by a runner of its own; ``runner`` None where
    the subject has no such command. ``during``: it runs within the next run step."""

    runner: str | None
    during: float | None = None


Action = RunStep | DeleteStep | EditStep | CacheStep


@dataclass(frozen=True)
class PlannedStep:
    index: int  # counted from 1
    kind: StepKind
    action: Action


@dataclass(frozen=True)
class Seat:
    """Where one of the scenario's runners sits: the checkout it sees, and where it sees it."""

    checkout: str
    src: str


def plan_steps(
    scenario: Scenario,
    seats: Mapping[str, Seat],
    checkouts: Mapping[str, Mapping[str, Any]],
    template: Template,
    start_delays: Mapping[str, float],
    cache_runner: Callable[[str, StepKind], bool],
) -> tuple[PlannedStep, ...]:
    """The scenario's steps, each with what it needs; an edit's renders and identities follow
    from the edits before it. ``cache_runner`` plans a cache step's own runner by name, and
    says whether the subject has such a command."""
    rendered = {name: dict(params) for name, params in checkouts.items()}
    planned: list[PlannedStep] = []
    beside: list[tuple[str, float]] = []  # cache runners to start within the next run step
    for index, step in enumerate(scenario.steps_to_take, start=1):
        action: Action
        if step.kind is StepKind.RUN:
            chosen = tuple(name for name in seats if not step.runners or name in step.runners)
            starts = [
                (name, i * scenario.stagger + start_delays.get(name, 0.0))
                for i, name in enumerate(chosen)
            ]
            action, beside = RunStep(chosen, (*starts, *beside)), []
        elif step.kind is StepKind.DELETE:
            assert step.path is not None
            action = DeleteStep(step.path, _checkouts_of(step, seats))
        elif step.kind is StepKind.EDIT:
            action = _edit(step, template, seats, rendered)
        else:
            name = f"cache-{step.kind}-{index}"
            has_one = cache_runner(name, step.kind)
            action = CacheStep(name if has_one else None, step.during)
            if has_one and step.during is not None:
                beside.append((name, step.during))
        planned.append(PlannedStep(index, step.kind, action))
    return tuple(planned)


def _checkouts_of(step: Step, seats: Mapping[str, Seat]) -> tuple[str, ...]:
    """The checkouts of the runners a step names (all, where it names none), once each."""
    chosen = (s.checkout for name, s in seats.items() if not step.runners or name in step.runners)
    return tuple(dict.fromkeys(chosen))


def _edit(
    step: Step,
    template: Template,
    seats: Mapping[str, Seat],
    rendered: dict[str, dict[str, Any]],
) -> EditStep:
    """Render the chosen checkouts again with the step's parameters; what each runner must
    find from now on changes with them."""
    for checkout in _checkouts_of(step, seats):
        for name, value in step.set.items():
            rendered[checkout][name] = list(value) if name == "dependencies" else value
        rendered[checkout] = template.marked(rendered[checkout])  # the marker of what it is now
    renders = {c: dict(rendered[c]) for c in _checkouts_of(step, seats)}
    identities = {
        name: template.identity(rendered[s.checkout], s.src, s.checkout)
        for name, s in seats.items()
    }
    return EditStep(renders, identities)
