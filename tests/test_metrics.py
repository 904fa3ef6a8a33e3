from __future__ import annotations

import dataclasses

from lab import metrics
from lab.contract import CLOCK_ERROR_KEY, Clock, Event, Op, Phase

K = "sdists-v11/editable/k"
RUN, LOCK, BUILD = Op.RUN, Op.LOCK, Op.BUILD


def _e(t: float, runner: str, op: Op, phase: str, key: str | None = None, **data: object) -> Event:
    return Event(t, 1000 + t, runner, op, Phase(phase), key, Clock.ARRIVAL, data=dict(data))


SERIAL = [
    _e(0.0, "a", RUN, "start"),
    _e(0.0, "b", RUN, "start"),
    _e(0.1, "a", LOCK, "request", K),
    _e(0.1, "a", LOCK, "acquired", K),
    _e(0.2, "b", LOCK, "request", K),
    _e(0.2, "b", LOCK, "wait", K),
    _e(10.1, "a", LOCK, "released", K),
    _e(10.1, "b", LOCK, "acquired", K),
    _e(10.3, "a", RUN, "end", rc=0),
    _e(20.1, "b", LOCK, "released", K),
    _e(20.3, "b", RUN, "end", rc=0),
]


def test_spans_pair_request_acquire_release() -> None:
    a, b = metrics.lock_spans(SERIAL)
    assert (a.runner, a.wait_s, a.hold_s, a.waited_line) == ("a", 0.0, 10.0, False)
    assert (b.runner, b.waited_line) == ("b", True)
    assert round(b.wait_s, 6) == 9.9
    assert round(b.hold_s, 6) == 10.0


def test_holder_and_overlap() -> None:
    spans = metrics.lock_spans(SERIAL)
    holder = metrics.holder_during(spans, spans[1])
    assert holder is not None and holder.runner == "a"
    assert metrics.overlapping_holds(spans) == []


def test_overlapping_holds_are_found() -> None:
    broken = [  # overlapping by a full second, far beyond stamp jitter
        _e(0.0, "a", LOCK, "acquired", K),
        _e(1.0, "b", LOCK, "acquired", K),
        _e(2.0, "a", LOCK, "released", K),
        _e(3.0, "b", LOCK, "released", K),
    ]
    pairs = metrics.overlapping_holds(metrics.lock_spans(broken))
    assert [(x.runner, y.runner) for x, y in pairs] == [("a", "b")]


def test_a_timeout_ends_the_attempt_without_a_hold() -> None:
    events = [_e(0.0, "b", LOCK, "wait", K), _e(300.0, "b", LOCK, "timeout", K)]
    (span,) = metrics.lock_spans(events)
    assert span.acquired is None and span.wait_s == 0.0 and span.hold_s == 0.0


def test_run_bounds() -> None:
    assert metrics.run_bounds(SERIAL) == {"a": (0.0, 10.3, 0), "b": (0.0, 20.3, 0)}


def test_stamp_jitter_is_not_an_overlap() -> None:
    handover = [
        _e(0.0, "a", LOCK, "acquired", K),
        _e(4.999, "b", LOCK, "acquired", K),  # arrived 1 ms before the release it followed
        _e(5.0, "a", LOCK, "released", K),
        _e(9.0, "b", LOCK, "released", K),
    ]
    assert metrics.overlapping_holds(metrics.lock_spans(handover)) == []


def test_the_slack_comes_from_who_stamped_the_release() -> None:
    """The same 1 ms inversion is proof of an overlap when the subject stamped its events
    where they happened, and only stamp jitter when they were stamped on arrival."""
    at_source = [
        dataclasses.replace(e, clock=Clock.SOURCE)
        for e in (
            _e(0.0, "a", LOCK, "acquired", K),
            _e(4.999, "b", LOCK, "acquired", K),
            _e(5.0, "a", LOCK, "released", K),
            _e(9.0, "b", LOCK, "released", K),
        )
    ]
    pairs = metrics.overlapping_holds(metrics.lock_spans(at_source))
    assert [(x.runner, y.runner) for x, y in pairs] == [("a", "b")]


def test_a_wait_then_a_build_is_serialized_a_wait_then_reuse_is_not() -> None:
    spans = metrics.lock_spans(SERIAL)
    waiter = spans[1]
    # uv reports no builds: holding the lock for a whole build after the wait means it built
    assert metrics.built_after_wait(SERIAL, waiter, one_build_s=10.0)
    short = [*SERIAL[:7], _e(10.2, "b", LOCK, "released", K)]
    assert not metrics.built_after_wait(short, metrics.lock_spans(short)[1], one_build_s=10.0)
    # a subject that reports its builds answers directly, however long it held the lock
    built = [*SERIAL, _e(0.2, "a", BUILD, "start", K), _e(12.0, "b", BUILD, "start", K)]
    assert metrics.built_after_wait(built, waiter, one_build_s=10.0)
    reused = [*SERIAL, _e(0.2, "a", BUILD, "start", K)]
    assert metrics.built_after_wait(reused, waiter, one_build_s=10.0) is False
    # a waiter killed while it held the lock: nobody can tell whether it built
    killed = SERIAL[:8]
    span = metrics.lock_spans(killed)[1]
    assert metrics.built_after_wait(killed, span, one_build_s=10.0) is None


def test_a_subject_that_killed_itself_let_go_of_its_locks_then() -> None:
    """A builder killed at a failpoint says so just before it dies; its runner's shell runs
    the probe on, so the run ends later: the next holder took the lock in between."""

    def source(event: Event) -> Event:
        return dataclasses.replace(event, clock=Clock.SOURCE)

    handover = [
        source(_e(0.0, "a", LOCK, "acquired", K)),
        source(_e(0.5, "b", LOCK, "wait", K)),
        source(_e(1.0, "a", Op.FAULT, "struck", "lock-acquired.env", action="kill")),
        source(_e(1.01, "b", LOCK, "acquired", K)),
        _e(1.3, "a", RUN, "end", rc=137),
        source(_e(2.0, "b", LOCK, "released", K)),
    ]
    a, b = metrics.lock_spans(handover)
    assert a.released == 1.0 and b.acquired == 1.01
    assert metrics.overlapping_holds([a, b]) == []
    # a pause strikes too, but the paused holder still holds: that is an overlap
    paused = [
        dataclasses.replace(e, data={"action": "pause"}) if e.op is Op.FAULT else e
        for e in handover
    ]
    assert len(metrics.overlapping_holds(metrics.lock_spans(paused))) == 1


def _on(node_error: float, *events: Event) -> list[Event]:
    """``events`` as a runner on another node gives them: stamped there, placed on the lab's
    clocks with the error its measured clock offset allows."""
    return [
        dataclasses.replace(
            e, clock=Clock.SOURCE, node="node-2", data={**e.data, CLOCK_ERROR_KEY: node_error}
        )
        for e in events
    ]


def test_a_node_s_clock_error_widens_its_spans_and_a_bigger_overlap_is_still_proof() -> None:
    here = [
        dataclasses.replace(e, clock=Clock.SOURCE)
        for e in (_e(0.0, "a", LOCK, "acquired", K), _e(5.0, "a", LOCK, "released", K))
    ]
    # b, on another node, seems to take the lock 20 ms before a let go of it
    there = (_e(4.98, "b", LOCK, "acquired", K), _e(9.0, "b", LOCK, "released", K))

    def overlaps(error: float) -> list[tuple[str, str]]:
        spans = metrics.lock_spans([*here, *_on(error, *there)])
        return [(x.runner, y.runner) for x, y in metrics.overlapping_holds(spans)]

    assert overlaps(0.005) == [("a", "b")]  # a 5 ms error cannot explain 20 ms: proof
    assert overlaps(0.03) == []  # a 30 ms error can: not proof
    (span,) = [s for s in metrics.lock_spans(_on(0.03, *there))]
    assert span.clock_error_s == 0.03
