"""Liveness: no sweeper removed a scratch dir whose builder still lived.

The reference builder reports when it makes and removes its private build dirs
(``scratch``/``start`` and ``end``) and when it sweeps one it believes abandoned
(``sweep``/``removed``). A sweep of a dir whose owner had not removed it, had not been killed,
and still ran, deleted live work: the flock that should have said "alive" did not (locks that
lie, uv #18073's class).
"""

from __future__ import annotations

from lab.check.findings import Findings, Kind, Violation
from lab.check.record import RunRecord
from lab.contract import FaultAction, Op, Phase

_KILLS = (FaultAction.KILL, FaultAction.KILL_GROUP)


def check(record: RunRecord) -> Findings:
    made: dict[str, tuple[str, float]] = {}  # scratch key -> (owner, when)
    removed_by_owner: dict[str, float] = {}
    for e in record.events:
        if e.op is Op.SCRATCH and e.key:
            if e.phase is Phase.START:
                made[e.key] = (e.runner, e.t_mono)
            elif e.phase is Phase.END:
                removed_by_owner[e.key] = e.t_mono
    violations = []
    for e in record.events:
        if not (e.op is Op.SWEEP and e.phase is Phase.REMOVED and e.key in made):
            continue
        owner, since = made[e.key]
        killed = [k.t_mono for k in record.struck(owner) if k.data.get("action") in _KILLS]
        alive = (
            owner != e.runner
            and since < e.t_mono
            and removed_by_owner.get(e.key, float("inf")) > e.t_mono
            and not any(t <= e.t_mono for t in killed)
            and record.ends.get(owner, float("inf")) > e.t_mono
        )
        if alive:
            violations.append(
                Violation(
                    Kind.SWEPT_LIVE_SCRATCH,
                    f"{e.runner} swept {e.key}, the live build dir of {owner}",
                    runner=e.runner,
                    key=e.key,
                    expected=f"{owner}'s own",
                    found=f"removed by {e.runner}",
                )
            )
    return Findings(violations)
