"""What a fuzz campaign records: each install as the checker judged it, the summary, the exit
code. Stale (what it installed is not its tree's) is told from failed (a traceback, a torn
entry, a run that failed where a cold build of its tree did not) and from an edit that broke
the build (the cold build failed too)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from lab import scenario as scenarios
from lab.check.findings import Kind
from lab.errors import ExitCode
from lab.rundir import CampaignDir
from lab.vocabulary import RunStatus, Verdict


@dataclass(frozen=True)
class Settings:
    scenario: scenarios.Scenario  # what each install runs: its runners, path, template
    subjects: tuple[str, ...]
    edits: int
    seed: int
    shown: str  # the template or project, for people
    replay: str  # the command that fuzzes it again: `cachelab fuzz ... --backend ... --set ...`


@dataclass(frozen=True)
class Install:
    """One subject's install after one edit (0: the start, before any edit)."""

    edit: int
    subject: str
    status: RunStatus
    verdict: Verdict
    hit: bool | None  # whether a runner reused the cache; None: the subject does not say
    output_changed: bool | None  # the cold build differs from the one before (None: unknown)
    cold_built: bool = True  # the oracle could build the tree (False: the edit broke it)
    found: str | None = None  # the checker's first violation or unknown
    kind: str | None = None  # that violation's kind
    kept: str | None = None  # its run directory, where kept


# What an install that is not its tree's looks like to the checker: the cold build's word, or
# the facts' (a version or requirements the project's own files state).
_STALE = frozenset(
    {
        Kind.METADATA_DIFFERS,
        Kind.FILES_DIFFER,
        Kind.POINTS_ELSEWHERE,
        Kind.WRONG_VERSION,
        Kind.WRONG_REQUIREMENTS,
        Kind.WRONG_IDENTITY,
        Kind.OUTSIDE_CHECKOUT,
        Kind.NATIVE_MISMATCH,
    }
)


def stale(install: Install) -> bool:
    """Invalid because what it installed is not what its tree gives."""
    return install.verdict is Verdict.INVALID and install.kind in _STALE


def broken(install: Install) -> bool:
    """The edit broke the build: the cold build failed too, so the install must have."""
    return not install.cold_built and install.status is not RunStatus.OK


def failed(install: Install) -> bool:
    """Invalid otherwise (a traceback, a torn entry), or a run that failed where a cold build
    of its tree did not."""
    invalid = install.verdict is Verdict.INVALID and not stale(install)
    ended = install.verdict is Verdict.VALID and install.status is not RunStatus.OK
    return invalid or (ended and not broken(install))


def save(
    out: CampaignDir, settings: Settings, made: dict[str, list[str]], done: list[Install]
) -> None:
    record = {
        "seed": settings.seed,
        "start": settings.shown,
        "subjects": list(settings.subjects),
        "scenario": settings.scenario.model_dump(mode="json"),
        "edits": made,
        "installs": [asdict(i) for i in done],
    }
    out.record.write_text(json.dumps(record, indent=1) + "\n")
    out.summary.write_text(markdown(settings, done))


def _replay(settings: Settings, install: Install) -> str:
    return (
        f"{settings.replay} --subjects {install.subject} --seed {settings.seed} "
        f"--edits {install.edit}"
    )


def markdown(settings: Settings, done: Sequence[Install]) -> str:
    """Per subject: installs, stale ones, failed ones, and its reuse where nothing changed."""
    lines = [
        f"Fuzz of {settings.shown}: {settings.edits} edits, seed {settings.seed}, "
        f"{settings.scenario.runners} runner(s) per install, its tree edited in place.",
        "",
        "| subject | installs | stale | failed | unknown | broken by the edit | reuse where "
        "the cold build held |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for subject in settings.subjects:
        mine = [i for i in done if i.subject == subject]
        same = [i for i in mine if i.output_changed is False]
        said = [i for i in same if i.hit is not None]
        reuse = (
            f"{sum(bool(i.hit) for i in said)} of {len(said)}"
            if said
            else ("the subject does not say" if same else "no such edit")
        )
        counts = [
            len(mine),
            sum(stale(i) for i in mine),
            sum(failed(i) for i in mine),
            sum(i.verdict is Verdict.UNKNOWN for i in mine),
            sum(broken(i) for i in mine),
        ]
        lines.append(f"| {subject} | {' | '.join(map(str, counts))} | {reuse} |")
    for install in [i for i in done if stale(i) or failed(i)][:10]:
        what = "Stale" if stale(install) else "Failed"
        lines += ["", f"{what}: {install.subject} after edit {install.edit}: {install.found}"]
        lines.append(f"    {_replay(settings, install)}")
    return "\n".join(lines) + "\n"


def exit_code(done: Sequence[Install]) -> int:
    """1 where an install was stale or failed, 3 where the checker could not judge one, else
    0."""
    if any(stale(i) or failed(i) for i in done):
        return ExitCode.FAILED
    if any(i.verdict is Verdict.UNKNOWN for i in done):
        return ExitCode.UNKNOWN
    return ExitCode.OK
