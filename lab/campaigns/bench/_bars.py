"""The bars the suites are held to, computed from their rows: the default policy as fast as
uv's own work without a lock, coalescing below it, the native build below uv's, a reuse hit
in 0.3 s, and every runner over a swarm's nodes done and judged valid. A bar whose cells were
not measured is left out; one whose run failed is not met."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lab.campaigns.bench._rows import LOCK_FREE_UV, ReuseHit, SubjectRow, SwarmRow
from lab.campaigns.claims import Claim
from lab.vocabulary import RunStatus, Verdict

# How much slower than its bar the default policy may be, where the bar is not "below".
SLACK = 1.05
REUSE_HIT_S = 0.3


def against_uv(rows: Sequence[SubjectRow]) -> list[SubjectRow]:
    """Each row with its makespan over uv's one build (lock-free uv's fastest runner, at the
    fewest runners measured, in the same workload) and over lock-free uv's makespan at the
    same N."""
    ok = [r for r in rows if r.status is RunStatus.OK and r.makespan_s]
    bars = {(r.workload, r.runners): r for r in ok if r.subject == LOCK_FREE_UV}
    fewest: dict[str, int] = {}
    for workload, n in bars:
        fewest[workload] = min(n, fewest.get(workload, n))
    one_build = {w: bars[(w, n)].single_build_s for w, n in fewest.items()}
    return [_over(r, one_build.get(r.workload), bars.get((r.workload, r.runners))) for r in rows]


def _over(row: SubjectRow, one_build: float | None, bar: SubjectRow | None) -> SubjectRow:
    """``bar``: lock-free uv at ``row``'s N, where its run was ok."""
    made = row.makespan_s if row.status is RunStatus.OK else None
    against = bar.makespan_s if bar is not None else None
    return dataclasses.replace(
        row,
        vs_uv_one_build=round(made / one_build, 3) if made and one_build else None,
        vs_lock_free_uv=round(made / against, 3) if made and against else None,
    )


def subjects_bars(
    rows: Sequence[SubjectRow], reuse: Sequence[ReuseHit], default: str
) -> list[Claim]:
    """The subjects suite's bars, over the ratios ``against_uv`` gave its rows; ``default``
    is the reference builder's default policy, the one held to them."""
    return [
        *_one_build(rows, default),
        *_at_scale(rows, default),
        *_coalescing(rows),
        *_native(rows, default),
        *_reuse(reuse),
    ]


def _cell(rows: Sequence[SubjectRow], workload: str, subject: str, n: int) -> SubjectRow | None:
    """That cell's row, where it was measured."""
    wanted = (workload, subject, n)
    return next((r for r in rows if (r.workload, r.subject, r.runners) == wanted), None)


def _held_to(
    claim: str, mine: SubjectRow, ratio: float | None, limit: float, *, below: bool = False
) -> Claim:
    """``ratio``, ``mine``'s makespan over its bar, at most ``limit`` (``below``: under it).
    Our run failed: not met; the bar's run failed (no ratio): not known."""
    if mine.status is not RunStatus.OK:
        return Claim(claim, "its run failed", False)
    if ratio is None:
        return Claim(claim, "n/a: the run it is measured against failed", None)
    return Claim(claim, f"{ratio:.2f}", ratio < limit if below else ratio <= limit)


def _one_build(rows: Sequence[SubjectRow], default: str) -> list[Claim]:
    mine = _cell(rows, "sleep", default, 1)
    if mine is None:
        return []
    claim = f"sleep: {default}'s one build ≤ {SLACK} × uv's"
    return [_held_to(claim, mine, mine.vs_uv_one_build, SLACK)]


def _at_scale(rows: Sequence[SubjectRow], default: str) -> list[Claim]:
    found = []
    for n in (2, 4, 8, 16):
        mine = _cell(rows, "sleep", default, n)
        if mine is None:
            continue
        one, lock_free = mine.vs_uv_one_build, mine.vs_lock_free_uv
        # over the larger of the two bars: the smaller of the two ratios
        ratio = min(one, lock_free) if one is not None and lock_free is not None else None
        claim = f"sleep, N={n}: {default} ≤ {SLACK} × max(uv's one build, lock-free uv)"
        found.append(_held_to(claim, mine, ratio, SLACK))
    return found


def _coalescing(rows: Sequence[SubjectRow]) -> list[Claim]:
    found = []
    for n in (8, 16):
        mine = _cell(rows, "sleep", "coalesce", n)
        if mine is not None:
            claim = f"sleep, N={n}: coalesce below lock-free uv"
            found.append(_held_to(claim, mine, mine.vs_lock_free_uv, 1.0, below=True))
    return found


def _native(rows: Sequence[SubjectRow], default: str) -> list[Claim]:
    """A native build at N=4 against uv's at the same N (both at the same path)."""
    mine = _cell(rows, "c-extension", default, 4)
    if mine is None:
        return []
    uv = _cell(rows, "c-extension", "uv", 4)
    ratio = None
    if uv is not None and uv.status is RunStatus.OK and uv.makespan_s and mine.makespan_s:
        ratio = mine.makespan_s / uv.makespan_s
    claim = f"c-extension, N=4: {default} below uv"
    return [_held_to(claim, mine, ratio, 1.0, below=True)]


def _reuse(reuse: Sequence[ReuseHit]) -> list[Claim]:
    found = []
    for hit in reuse:
        if hit.subject in ("uv", "wide") or hit.workload != "sleep":
            continue  # uv rebuilds a fresh checkout (ctime); wide is not held to this
        took = hit.lookup_to_installed_s
        claim = f"sleep: {hit.subject}'s reuse hit ≤ {REUSE_HIT_S} s, lookup to installed"
        if hit.status is not RunStatus.OK or took is None:
            found.append(Claim(claim, "its run failed", False))
        else:
            found.append(Claim(claim, f"{took:.3f} s", took <= REUSE_HIT_S))
    return found


def swarm_bars(rows: Sequence[SwarmRow], swarm_backend: str) -> list[Claim]:
    """The swarm's runs at the largest N measured complete, judged valid."""
    mine = [r for r in rows if r.backend == swarm_backend]
    biggest = max((r.runners for r in mine), default=None)
    return [
        Claim(
            f"{r.runners} runners over {r.nodes} nodes complete, judged valid",
            f"{r.status}, {r.verdict}",
            r.status is RunStatus.OK and r.verdict is Verdict.VALID,
        )
        for r in mine
        if r.runners == biggest
    ]
