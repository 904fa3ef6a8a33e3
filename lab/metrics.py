"""Pure functions from a history to the figures a run is judged by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lab.contract import (
    CLOCK_ERROR_KEY,
    TREE_KEY_PREFIX,
    Clock,
    Event,
    FaultAction,
    LockKind,
    Op,
    Phase,
)

# How much earlier than its stamp an event may have happened, by who stamped it. The subject's
# own stamps are taken where it happened (the reference builder stamps a release while it
# still holds the lock). A line stamped on arrival may have waited in a pipe, and two reader
# threads can stamp a release and the acquire it allowed in either order.
CLOCK_UNCERTAINTY_S = {Clock.SOURCE: 0.0, Clock.ARRIVAL: 0.1, Clock.ORCHESTRATOR: 0.1}


@dataclass(frozen=True)
class LockSpan:
    """One runner's attempt on one lock: from asking, through holding, to letting go."""

    runner: str
    key: str
    asked: float  # t_mono of the first request/wait line
    acquired: float | None
    released: float | None
    waited_line: bool  # uv printed "Waiting to acquire": the lock was contended
    released_clock: Clock = Clock.SOURCE  # who stamped the release
    gave_up: float | None = None  # t_mono of a timeout: it stopped waiting without the lock
    kind: str | None = None  # the lock's kind, where the subject says (LockKind)
    clock_error_s: float = 0.0  # a runner on another node: how far its placed times can be off

    @property
    def wait_s(self) -> float:
        return (self.acquired - self.asked) if self.acquired is not None else 0.0

    @property
    def hold_s(self) -> float:
        if self.acquired is None or self.released is None:
            return 0.0
        return self.released - self.acquired


def is_tree_lock(key: str) -> bool:
    return key.startswith(TREE_KEY_PREFIX)


def guards_work(span: LockSpan) -> bool:
    """A lock held for a whole piece of work by design, not only to publish: a tree lock
    around a build, the lock under which one runner makes a build env for the others, the
    build lock under which one runner builds for the others (coalesce). Its holds are not the
    cache's lock holds."""
    return is_tree_lock(span.key) or span.kind in (LockKind.ENV_MAKE, LockKind.BUILD)


@dataclass
class _Attempt:
    asked: float
    kind: str | None = None
    acquired: float | None = None
    waited_line: bool = False
    clock_error_s: float = 0.0


def lock_spans(events: Iterable[Event]) -> list[LockSpan]:
    """Pair each runner's request/wait/acquired/released lines per key, in time order. A
    runner that ended (killed, say) while it held or waited for a lock let go of it then: the
    kernel drops a dead process's flocks. So did a subject that killed itself at a failpoint
    (``fault``/``struck``, stamped by itself just before), though its runner's shell may go
    on a while (the lab's probe) before the run ends."""
    pairing = _Pairing()
    relevant = [
        e
        for e in events
        if (e.op is Op.LOCK and e.key) or (e.op is Op.RUN and e.phase is Phase.END) or _killed(e)
    ]
    for e in sorted(relevant, key=lambda e: e.t_mono):
        if e.op is Op.LOCK:
            pairing.lock_event(e)
        else:  # the holder died: whatever it still held or awaited, it let go
            pairing.ended(e)
    for runner, key in list(pairing.attempts):
        pairing.close(runner, key, None)
    return sorted(pairing.spans, key=lambda s: s.asked)


class _Pairing:
    def __init__(self) -> None:
        self.attempts: dict[tuple[str, str], _Attempt] = {}
        self.spans: list[LockSpan] = []

    def close(
        self, runner: str, key: str, released: Event | None, gave_up: float | None = None
    ) -> None:
        a = self.attempts.pop((runner, key))
        at, clock = (released.t_mono, released.clock) if released else (None, Clock.SOURCE)
        error = max(a.clock_error_s, clock_error(released)) if released else a.clock_error_s
        self.spans.append(
            LockSpan(
                runner, key, a.asked, a.acquired, at, a.waited_line, clock, gave_up, a.kind, error
            )
        )

    def ended(self, e: Event) -> None:
        for runner, key in [k for k in self.attempts if k[0] == e.runner]:
            if self.attempts[(runner, key)].acquired is None:
                self.close(runner, key, None, gave_up=e.t_mono)
            else:
                self.close(runner, key, e)

    def lock_event(self, e: Event) -> None:
        key = e.key or ""
        attempt = self.attempts.get((e.runner, key))
        asking = e.phase in (Phase.REQUEST, Phase.WAIT)
        if attempt is not None and attempt.acquired is not None and asking:
            self.close(e.runner, key, None)  # asked again without a release line: keep both
            attempt = None
        if attempt is None:
            kind = e.data.get("kind")
            attempt = _Attempt(e.t_mono, kind if isinstance(kind, str) else None)
            self.attempts[(e.runner, key)] = attempt
        attempt.clock_error_s = max(attempt.clock_error_s, clock_error(e))
        if e.phase is Phase.WAIT:
            attempt.waited_line = True
        elif e.phase is Phase.ACQUIRED:
            attempt.acquired = e.t_mono
        elif e.phase is Phase.RELEASED:
            self.close(e.runner, key, e)
        elif e.phase is Phase.TIMEOUT:
            self.close(e.runner, key, None, gave_up=e.t_mono)


def _killed(event: Event) -> bool:
    """A subject that killed itself (or its process group) at a failpoint, stamped by itself.
    Every lock a runner reports is its subject's one process's (the reference builder takes
    its locks in-process; its children hold none), so that kill ended them all."""
    return (
        event.op is Op.FAULT
        and event.phase is Phase.STRUCK
        and event.clock is Clock.SOURCE
        and event.data.get("action") in (FaultAction.KILL, FaultAction.KILL_GROUP)
    )


def run_bounds(events: Iterable[Event]) -> dict[str, tuple[float, float | None, int | None]]:
    """Per runner: (start, end, exit code) from its run events."""
    bounds: dict[str, tuple[float, float | None, int | None]] = {}
    for e in events:
        if e.op is not Op.RUN:
            continue
        if e.phase is Phase.START:
            bounds[e.runner] = (e.t_mono, None, None)
        elif e.phase is Phase.END and e.runner in bounds:
            rc = e.data.get("rc")
            bounds[e.runner] = (bounds[e.runner][0], e.t_mono, rc if isinstance(rc, int) else None)
    return bounds


def holder_during(spans: Sequence[LockSpan], waiting: LockSpan) -> LockSpan | None:
    """The other runner's hold of the same key that overlaps ``waiting``'s wait the most."""
    if waiting.acquired is None:
        end = max((s.released or s.asked) for s in spans)
    else:
        end = waiting.acquired
    best, best_overlap = None, 0.0
    for s in spans:
        if s.runner == waiting.runner or s.key != waiting.key or s.acquired is None:
            continue
        overlap = min(end, s.released or end) - max(waiting.asked, s.acquired)
        if overlap > best_overlap:
            best, best_overlap = s, overlap
    return best


def clock_error(event: Event) -> float:
    """How far ``event``'s time can be off beyond its clock's own slack: a node's clock
    offset, where a runner on another node stamped it (``CLOCK_ERROR_KEY``)."""
    error = event.data.get(CLOCK_ERROR_KEY)
    return float(error) if isinstance(error, int | float) else 0.0


def _earliest_release(span: LockSpan) -> float:
    if span.released is None:
        return float("inf")  # never released: held to the end
    return span.released - CLOCK_UNCERTAINTY_S[span.released_clock] - span.clock_error_s


def _latest_acquire(span: LockSpan) -> float:
    assert span.acquired is not None
    return span.acquired + span.clock_error_s


def overlapping_holds(spans: Sequence[LockSpan]) -> list[tuple[LockSpan, LockSpan]]:
    """Pairs of runners that held one exclusive lock at once, for certain: even with every
    acquire as late and every release as early as its clock allows."""
    held = [s for s in spans if s.acquired is not None]
    pairs = []
    for i, a in enumerate(held):
        for b in held[i + 1 :]:
            if a.key != b.key or a.runner == b.runner:
                continue
            a_then, b_then = _latest_acquire(a), _latest_acquire(b)
            if a_then < _earliest_release(b) and b_then < _earliest_release(a):
                pairs.append((a, b))
    return pairs


def made_env_after_wait(events: Iterable[Event], span: LockSpan) -> bool | None:
    """Whether ``span``'s runner, once it held the env-make lock, made the build env itself
    (True: its maker had failed) or took the one its maker published (False); None where
    the history cannot tell."""
    if span.acquired is None:
        return None
    for e in events:
        if e.runner == span.runner and e.op is Op.ENV and e.t_mono >= span.acquired:
            if e.phase is Phase.MISS:
                return True
            if e.phase is Phase.HIT and e.data.get("coalesced"):
                return False
    return None


def built_after_wait(events: Iterable[Event], span: LockSpan, one_build_s: float) -> bool | None:
    """Whether ``span``'s runner built after its wait (True) or reused the holder's work
    (False); None where the history cannot tell.

    Subjects that report their builds answer directly: a build started once the lock was
    theirs. For the others (uv logs only its locks), holding that lock for half a build or
    more after the wait means a build happened under it; a hold that never ended (a runner
    killed while holding) tells nothing.
    """
    if span.acquired is None:
        return None
    builds = [e for e in events if e.op is Op.BUILD and e.phase is Phase.START]
    if builds:  # the subject reports its builds
        return any(e.runner == span.runner and e.t_mono >= span.acquired for e in builds)
    if span.released is None:
        return None
    return span.hold_s >= 0.5 * one_build_s
