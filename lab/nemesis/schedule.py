"""The seeded schedule of a fault campaign: each trial scheduled the same for every subject.

Trial ``k`` takes the campaign's faults in turn (``faults[(k - 1) % len(faults)]``). Where a
fault strikes goes through the possibilities in turn too, so that a few trials cover them
instead of drawing the same one twice: the n-th kill trial takes the n-th of ``KILLS``, the
n-th pause trial the n-th of ``PAUSES``. The rest (which runner, how long, how small) comes
from the trial's own random source, seeded with the campaign's seed and ``k``: a trial can be
replayed alone, and the schedule depends neither on the subjects nor on what earlier trials
did.

A scheduled trial names a strike point both ways, and the subject decides which applies: a
failpoint for a subject that reads them (the reference builder), an event of its own output
for the others (uv), after which the nemesis strikes.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from lab.contract import Failpoint, FaultAction, LockKind, Op, Phase
from lab.nemesis import RunFaults, Strike


class Fault(enum.StrEnum):
    KILL = "kill"  # a runner killed (SIGKILL; a container's kill)
    PAUSE = "pause"  # a job that hangs while it holds a lock (SIGSTOP/SIGCONT; a pause)
    ENOSPC = "enospc"  # the cache on a small file system
    READONLY = "readonly"  # the cache read-only (after a clean run filled it)
    LIAR = "liar"  # each runner sees the cache through its own mount; locks do not exclude


# Where the kill trials strike a subject with failpoints, in turn: the builder alone while it
# writes a build env (leaving it half made), then every other point, alternating the builder
# alone and its whole process group.
KILLS: tuple[tuple[str, FaultAction], ...] = (
    (Failpoint.ENV_CREATE.value, FaultAction.KILL),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENTRY}", FaultAction.KILL_GROUP),
    (Failpoint.MID_BUILD.value, FaultAction.KILL),
    (Failpoint.BEFORE_PUBLISH.value, FaultAction.KILL_GROUP),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.TREE}", FaultAction.KILL),
    (Failpoint.AFTER_PUBLISH.value, FaultAction.KILL_GROUP),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENV}", FaultAction.KILL),
    (Failpoint.MID_INSTALL.value, FaultAction.KILL_GROUP),
    (Failpoint.ENV_CREATE.value, FaultAction.KILL_GROUP),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.BUILD}", FaultAction.KILL),
)
# Many points only the runner that goes first reaches: it makes a build env (the others wait
# for it and take it), or, under the coalesce policy, it builds (the others wait for its
# build); so the armed runner starts first, by this much.
HEAD_START_S = 0.5
# Where the pause trials hang a job, in turn: holding a lock that runners share, for longer
# than the lock timeout (no waiter should wait that long), then for less.
PAUSES: tuple[tuple[str, bool], ...] = (
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENTRY}", True),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENV}", False),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENV}", True),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENTRY}", False),
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.ENV_MAKE}", True),  # the others make their own
    (f"{Failpoint.LOCK_ACQUIRED}.{LockKind.BUILD}", True),  # the others build their own
)
# After which event of its own output the nemesis kills a subject without failpoints.
TRIGGERS = (
    (Op.RUN, Phase.OUTPUT),  # it started
    (Op.LOCK, Phase.REQUEST),  # it asks for the lock
    (Op.LOCK, Phase.ACQUIRED),  # it holds the lock (uv: for its whole build)
)


@dataclass(frozen=True)
class ScheduledTrial:
    trial: int
    fault: Fault | None  # None: only the scenario's own faults
    runner: str  # the runner killed
    failpoint: str  # where, for a subject with failpoints
    kill: FaultAction  # the builder alone, or its whole process group
    after: tuple[Op, Phase]  # after which event of its own, for the others
    delay_s: float  # how long after it
    pause_s: float
    size_mb: float  # the cache's file system, for enospc
    stagger_s: float  # between runners' starts, for liar: CI jobs never start at one instant

    def run_faults(self, failpoints: bool, runners: list[str]) -> RunFaults:
        """What to strike in the faulted run of a subject (``failpoints``: whether it reads
        them). File-system faults are the campaign's to make; they only show here."""
        if self.fault is Fault.KILL:
            if failpoints:
                armed = {self.runner: f"{self.failpoint}={self.kill}"}
                later = {r: HEAD_START_S for r in runners if r != self.runner}
                return RunFaults(failpoints=armed, start_delays=later)
            strike = Strike(self.runner, FaultAction.KILL, self.after, self.delay_s)
            return RunFaults(strikes=(strike,))
        if self.fault is Fault.PAUSE:
            # whoever holds the lock first hangs: every runner is armed, the first one strikes
            if failpoints:
                setting = f"{self.failpoint}={FaultAction.PAUSE}:{self.pause_s:g}"
                return RunFaults(failpoints=dict.fromkeys(runners, setting))
            hold = (Op.LOCK, Phase.ACQUIRED)
            strike = Strike(None, FaultAction.PAUSE, hold, 0.0, self.pause_s)
            return RunFaults(strikes=(strike,))
        return RunFaults()

    def describe(self, failpoints: bool) -> str:
        if self.fault is Fault.KILL:
            if failpoints:
                return f"{self.kill} of {self.runner} (started first) at {self.failpoint}"
            op, phase = self.after
            return f"{self.kill} of {self.runner} {self.delay_s:.2f} s after its {op}/{phase}"
        if self.fault is Fault.PAUSE:
            where = self.failpoint if failpoints else "lock/acquired"
            return f"pause {self.pause_s:g} s of the first runner at {where}"
        if self.fault is Fault.ENOSPC:
            return f"the cache on a {self.size_mb:g} MB file system"
        if self.fault is Fault.READONLY:
            return "the cache read-only, after a clean run filled it"
        if self.fault is Fault.LIAR:
            return (
                "each runner's own view of the cache, whose locks do not exclude; starts "
                f"{self.stagger_s:g} s apart"
            )
        return "the scenario's own faults"


def _pause(
    rng: random.Random, bounds: tuple[float, float], long: bool, timeout: float | None
) -> float:
    """A pause in ``bounds``: longer than the lock timeout (by 2 s at least) or shorter."""
    low, high = bounds
    if timeout is not None and low < timeout and timeout + 2 <= high:
        low, high = (timeout + 2, high) if long else (low, timeout)
    return round(rng.uniform(low, high), 1)


def scheduled(
    seed: int,
    trial: int,
    *,
    faults: tuple[Fault, ...],
    runners: list[str],
    build_delay: float,
    pause_s: tuple[float, float],
    lock_timeout: float | None = None,
) -> ScheduledTrial:
    rng = random.Random(f"cachelab/{seed}/{trial}")
    fault = faults[(trial - 1) % len(faults)] if faults else None
    # the how-many-th trial of its fault this is: where it strikes goes through the list
    nth = (trial - 1) // max(len(faults), 1)
    point, kill = KILLS[nth % len(KILLS)]
    if fault is Fault.PAUSE:
        point, long = PAUSES[nth % len(PAUSES)]
    else:
        long = False
    return ScheduledTrial(
        trial=trial,
        fault=fault,
        runner=rng.choice(runners),
        failpoint=point,
        kill=kill,
        after=rng.choice(TRIGGERS),
        delay_s=round(rng.uniform(0.0, max(build_delay, 0.1)), 3),
        pause_s=_pause(rng, pause_s, long, lock_timeout),
        size_mb=round(rng.uniform(0.5, 6.0), 1),
        stagger_s=round(rng.uniform(0.3, max(build_delay, 0.6)), 2),
    )
