"""A run's history as a timeline (``lab.report.lanes``): one lane per runner, what it did as
bars, faults as marks.

Pure: events in, a model out, in seconds from the run's first event. Pages draw it
(``lab.report.html``); nothing here knows about pixels. Phases come from the subject's own
events where it reports them (the reference builder); for a subject that reports only its
locks (uv), the locks and the run itself are what there is to draw.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from lab import metrics
from lab.contract import LAB_RUNNER, Event, Op, Phase
from lab.report.lanes import PHASES_ROW, Bar, BarKind, Lane, Mark, MarkKind, StepStart, Timeline

# What ends an env's creation: its publish outcome.
_ENV_DONE = (Phase.PUBLISHED, Phase.REPLACED, Phase.DROPPED)


def _details(event: Event, *skip: str) -> tuple[tuple[str, str], ...]:
    """An event's data as (name, text) pairs for hover and the table, in a stable order."""
    return tuple(
        (name, _text(value)) for name, value in sorted(event.data.items()) if name not in skip
    )


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


class _Builder:
    def __init__(self, events: Sequence[Event]) -> None:
        self.events = sorted(events, key=lambda e: e.t_mono)
        self.t0 = self.events[0].t_mono if self.events else 0.0
        self.lanes: dict[str, Lane] = {}
        self.steps: list[StepStart] = []
        self.ends = {r: end for r, (_, end, _) in metrics.run_bounds(self.events).items() if end}
        self.last = self.events[-1].t_mono if self.events else 0.0
        self.opened: dict[tuple[str, Op, str | None], Event] = {}  # phases begun, not ended
        self.previous: dict[str, Event] = {}  # each runner's last event

    def lane(self, runner: str) -> Lane:
        if runner not in self.lanes:
            self.lanes[runner] = Lane(runner)
        return self.lanes[runner]

    def rel(self, t: float) -> float:
        return t - self.t0

    def bar(
        self,
        runner: str,
        row: str,
        kind: BarKind,
        span: tuple[float, float | None],  # (start, end); end None: it never ended
        label: str,
        details: tuple[tuple[str, str], ...] = (),
        *,
        holder: str | None = None,
        bar_id: str | None = None,
    ) -> Bar:
        lane = self.lane(runner)
        if row not in lane.rows:
            lane.rows.append(row)
        start, end = span
        finish = end if end is not None else self.ends.get(runner, self.last)
        made = Bar(
            bar_id or f"{runner}-{len(lane.bars)}",
            runner,
            row,
            kind,
            self.rel(start),
            self.rel(max(finish, start)),
            label if end is not None else f"{label} (unfinished)",
            details,
            holder,
        )
        lane.bars.append(made)
        return made

    def phases(self) -> None:
        for e in self.events:
            if e.runner == LAB_RUNNER:  # the lab's own: a scenario's steps
                self._step(e)
                continue
            lane = self.lane(e.runner)
            lane.node = lane.node or e.node
            handler = self._phase_handler(e)
            if handler is not None:
                handler(e)
            self._mark(e)
            if e.op is not Op.RUN:
                self.previous[e.runner] = e
        for (runner, op, key), started in sorted(self.opened.items(), key=lambda i: i[1].t_mono):
            if op in (Op.BUILD, Op.INSTALL, Op.ENV):  # a runner killed mid-phase
                kind = BarKind(op.value)
                details = (("key", key or ""), *_details(started))
                self.bar(runner, PHASES_ROW, kind, (started.t_mono, None), kind, details)

    def _phase_handler(self, e: Event) -> Callable[[Event], None] | None:
        """What an event does to its runner's phases: opens one, closes one, or is one."""
        if e.phase is Phase.START and e.op in (Op.RUN, Op.BUILD, Op.INSTALL):
            return self._open
        if e.op is Op.ENV and e.phase is Phase.MISS:
            return self._open
        if e.op is Op.RUN and e.phase is Phase.END:
            return self._run_ended
        if e.op in (Op.BUILD, Op.INSTALL) and e.phase is Phase.END:
            return self._phase_ended
        if e.op is Op.ENV and e.phase in _ENV_DONE:
            return self._env_ended
        return {Op.PUBLISH: self._published, Op.FACTS: self._probed}.get(e.op)

    def _step(self, e: Event) -> None:
        if e.op is Op.STEP and e.phase is Phase.START:
            number = (e.key or "").removeprefix("step-")
            self.steps.append(StepStart(self.rel(e.t_mono), f"{number} {e.data.get('kind')}"))

    def _open(self, e: Event) -> None:
        self.opened[(e.runner, e.op, e.key)] = e

    def _run_ended(self, e: Event) -> None:
        started = self.opened.pop((e.runner, Op.RUN, None), None)
        rc = e.data.get("rc")
        self.lane(e.runner).rc = rc if isinstance(rc, int) else None
        if started is not None:
            label = f"run, exit {rc}" if rc is not None else "run, killed"
            self.bar(e.runner, PHASES_ROW, BarKind.RUN, (started.t_mono, e.t_mono), label)

    def _phase_ended(self, e: Event) -> None:
        started = self.opened.pop((e.runner, e.op, e.key), None)
        if started is not None:
            kind = BarKind.BUILD if e.op is Op.BUILD else BarKind.INSTALL
            details = _details(started) + _details(e)
            self.bar(e.runner, PHASES_ROW, kind, (started.t_mono, e.t_mono), kind, details)

    def _env_ended(self, e: Event) -> None:
        started = self.opened.pop((e.runner, e.op, e.key), None)
        if started is not None:
            details = (("key", e.key or ""), ("outcome", str(e.phase)), *_details(started))
            span = (started.t_mono, e.t_mono)
            self.bar(e.runner, PHASES_ROW, BarKind.ENV, span, "env", details)

    def _published(self, e: Event) -> None:
        details = (("key", e.key or ""), *_details(e))
        span = (e.t_mono, e.t_mono)
        self.bar(e.runner, PHASES_ROW, BarKind.PUBLISH, span, f"publish: {e.phase}", details)

    def _probed(self, e: Event) -> None:
        # The probe runs once the subject has exited: from its last word to its report.
        since = self.previous.get(e.runner, e)
        span = (since.t_mono, e.t_mono)
        self.bar(e.runner, PHASES_ROW, BarKind.CHECK, span, "check", _details(e))

    def _mark(self, e: Event) -> None:
        kind = {
            Op.FAULT: MarkKind.FAULT,
            Op.SWEEP: MarkKind.SWEEP,
        }.get(e.op)
        if e.op is Op.LOCK and e.phase is Phase.TIMEOUT:
            kind = MarkKind.TIMEOUT
        elif e.op is Op.BUILDER:
            kind = MarkKind.WARNING if e.phase is Phase.WARNED else MarkKind.FAILED
        if kind is None:
            return
        label = {
            MarkKind.FAULT: f"fault: {e.data.get('action', '')} at {e.key or '?'}",
            MarkKind.TIMEOUT: f"gave up waiting for {e.key}",
            MarkKind.SWEEP: f"swept {e.key}",
        }.get(kind, str(kind))
        self.lane(e.runner).marks.append(
            Mark(e.runner, kind, self.rel(e.t_mono), label, (("key", e.key or ""), *_details(e)))
        )

    def locks(self) -> None:
        spans = metrics.lock_spans(self.events)
        holds: dict[int, Bar] = {}  # id() of a span -> its hold bar
        for i, span in enumerate(spans):
            if span.acquired is None:
                continue
            holds[id(span)] = self.bar(
                span.runner,
                span.key,
                BarKind.HOLD,
                (span.acquired, span.released),
                "hold",
                (("key", span.key),),
                bar_id=f"hold-{i}",
            )
        for i, span in enumerate(spans):
            end = span.acquired if span.acquired is not None else span.gave_up
            if end is None or (end - span.asked < 0.001 and not span.waited_line):
                continue  # uncontended: asked and had at once
            holder = metrics.holder_during(spans, span)
            hold = holds.get(id(holder)) if holder is not None else None
            details: tuple[tuple[str, str], ...] = (("key", span.key),)
            if hold is not None:
                details = (*details, ("held by", hold.runner))
            self.bar(
                span.runner,
                span.key,
                BarKind.WAIT,
                (span.asked, end),
                "wait" if span.acquired is not None else "wait, gave up",
                details,
                holder=hold.id if hold else None,
                bar_id=f"wait-{i}",
            )


def build(events: Sequence[Event]) -> Timeline:
    """The timeline of one run's history."""
    b = _Builder(events)
    b.phases()
    b.locks()
    kinds = {
        e.key: str(e.data["kind"])
        for e in b.events
        if e.op is Op.LOCK and e.key and "kind" in e.data
    }
    lanes = [b.lanes[name] for name in sorted(b.lanes, key=_runner_order)]
    for lane in lanes:
        _pack_phases(lane)
        lane.bars.sort(key=lambda bar: (lane.rows.index(bar.row), bar.start, bar.id))
        lane.marks.sort(key=lambda m: m.at)
    return Timeline(lanes, b.rel(b.last), kinds, b.steps)


def _pack_phases(lane: Lane) -> None:
    """Phases that overlap (an env made during a build) go on further phase rows. The run
    itself stays on the first, beneath the rest."""
    ends: list[float] = []  # per phase row, where its last bar ends
    packed: list[Bar] = []
    for bar in sorted(lane.bars, key=lambda bar: (bar.kind is not BarKind.RUN, bar.start)):
        if bar.row != PHASES_ROW or bar.kind is BarKind.RUN:
            packed.append(bar)
            continue
        row = next((i for i, end in enumerate(ends) if end <= bar.start), len(ends))
        if row == len(ends):
            ends.append(bar.end)
        ends[row] = bar.end
        packed.append(dataclasses.replace(bar, row=_phase_row(row)) if row else bar)
    extra = [_phase_row(i) for i in range(1, len(ends))]
    lane.rows[1:1] = extra
    lane.bars = packed


def _phase_row(index: int) -> str:
    return PHASES_ROW if index == 0 else f"{PHASES_ROW} {index + 1}"


def _runner_order(name: str) -> tuple[str, int]:
    """runner-2 before runner-10."""
    stem, _, number = name.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (name, -1)
