"""The final cache: everything published in it must be what it claims to be.

Work in progress is not judged: the reference builder's scratch dirs and temporary dirs
(``.tmp*``, where uv builds). Published, then:

- every wheel file is a well-formed zip whose RECORD matches its members;
- every unpacked wheel (a directory holding ``*.dist-info/RECORD``) still has those files;
  both judged by ``lab.check.wheels``, never by the reference builder's own check;
- every reference-builder entry's manifest agrees with its wheel, and the wheel is the one
  the history says was published there (the digest in the publish event);
- no private build dir that this run made is left where every runner exited by itself.

Layout-independent except for the contract's names: uv's cache is judged by its wheels and
archives, the reference builder's by those and its manifests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from lab.check.findings import Findings, Kind, Unknown, Violation
from lab.check.record import RunRecord
from lab.check.wheels import unpacked_problem, wheel_problem
from lab.contract import ENTRY_MANIFEST, SCRATCH_DIR, Op, Phase
from lab.vocabulary import StepKind

_AT_FINAL = (Phase.PUBLISHED, Phase.REPLACED, Phase.IN_PLACE)


def _vendored(dist_info: Path, cache: Path) -> bool:
    """Whether ``dist_info`` lies inside another distribution (setuptools vendors wheels with
    their dist-info): its RECORD speaks of an install root that is not here."""
    for above in dist_info.parent.parents:
        if above == cache or cache not in above.parents:
            return False
        if any(p.name.endswith(".dist-info") for p in above.iterdir()):
            return True
    return False


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def manifest_problem(entry: Path) -> str | None:
    try:
        manifest = json.loads((entry / ENTRY_MANIFEST).read_text())
        wheel = entry / str(manifest["wheel"])
        if not wheel.is_file():
            return f"its wheel {manifest['wheel']} is missing"
        if wheel.stat().st_size != manifest["size"] or _sha256(wheel) != manifest["sha256"]:
            return f"{wheel.name} differs from the size and sha256 in {ENTRY_MANIFEST}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable {ENTRY_MANIFEST}: {exc}"
    return None


def _private(rel: Path) -> bool:
    """Work in progress, not published: the reference builder's scratch dirs, and temporary
    dirs by tempfile's convention (``.tmp*``), where uv builds and a killed uv leaves half an
    environment behind."""
    return rel.parts[0] == SCRATCH_DIR or any(part.startswith(".tmp") for part in rel.parts)


def _files(cache: Path) -> Iterator[Path]:
    """Every file of the cache outside private work in progress."""
    for path in sorted(cache.rglob("*")):
        if path.is_file() and not _private(path.relative_to(cache)):
            yield path


def _published(record: RunRecord) -> list[Violation]:
    last: dict[tuple[str, str], tuple[str, str]] = {}
    for e in record.events:
        if e.op is Op.PUBLISH and e.phase in _AT_FINAL and e.key and "sha256" in e.data:
            revision = str(e.data.get("revision"))
            last[(e.key, revision)] = (str(e.data.get("wheel")), str(e.data["sha256"]))
    found = []
    for (key, revision), (wheel, digest) in sorted(last.items()):
        entry = record.cache / key / revision
        if not entry.is_dir():
            continue  # gone (pruned): nothing there to be wrong
        path = entry / wheel
        actual = _sha256(path) if path.is_file() else "missing"
        if actual != digest:
            found.append(
                Violation(
                    Kind.REWRITTEN_ENTRY,
                    f"{key}/{revision}: {wheel} is not the wheel published there",
                    key=f"{key}/{revision}",
                    expected=digest,
                    found=actual,
                )
            )
    return found


def _scratch_left(record: RunRecord) -> list[Violation]:
    # the scenario's runners (not a cache step's own), each of which ended by itself
    exits = [record.exits.get(runner) for runner in record.runners]
    on_their_own = all(rc is not None and 0 <= rc <= 128 for rc in exits)
    scratch = record.cache / SCRATCH_DIR
    if not on_their_own or not scratch.is_dir():
        return []  # a killed builder's scratch is the next run's sweep to remove
    # this run's own: an earlier run's killed builder's dir waits for a sweep past its grace
    made_here = {
        e.key.removeprefix(f"{SCRATCH_DIR}/")
        for e in record.events
        if e.op is Op.SCRATCH and e.phase is Phase.START and e.key
    }
    left = sorted(p.name for p in scratch.iterdir() if p.is_dir() and p.name in made_here)
    if not left:
        return []
    return [
        Violation(
            Kind.LEAKED_SCRATCH,
            f"{len(left)} private build dir(s) left in {SCRATCH_DIR}/ by runners that exited",
            key=SCRATCH_DIR,
            expected=[],
            found=left,
        )
    ]


def check(record: RunRecord) -> Findings:
    cache = record.cache
    if not cache.is_dir():
        cleaned = any(
            e.op is Op.STEP and e.data.get("kind") in (StepKind.CLEAN, StepKind.PRUNE)
            for e in record.events
        )
        if cleaned:  # a scenario's clean step removed it: an empty cache is an intact one
            return Findings()
        return Findings(unknowns=[Unknown(f"no cache at {cache}")])
    violations: list[Violation] = []
    for path in _files(cache):
        rel = path.relative_to(cache).as_posix()
        if path.suffix == ".whl":
            problem, kind = wheel_problem(path), Kind.CORRUPT_WHEEL
        elif path.name == "RECORD" and path.parent.name.endswith(".dist-info"):
            if _vendored(path.parent, cache):
                continue
            problem, kind = unpacked_problem(path), Kind.CORRUPT_ARCHIVE
        elif path.name == ENTRY_MANIFEST:
            problem, kind = manifest_problem(path.parent), Kind.MANIFEST_MISMATCH
            rel = path.parent.relative_to(cache).as_posix()
        else:
            continue
        if problem is not None:
            violations.append(Violation(kind, f"{rel}: {problem}", key=rel, found=problem))
    return Findings(violations + _published(record) + _scratch_left(record))
