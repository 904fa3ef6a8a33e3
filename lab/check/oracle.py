"""Each runner against the cold-build oracle: what its venv holds (the probe's ``installed``,
described by ``lab.projects.installed``) must be what a cold build of its checkout's content gives.

The run records, before each run step starts its runners, the oracle's description for each
runner's checkout content (``RunDir.oracle``: a ``ColdBuild`` per runner), so this reads
the run directory alone and never builds. Compared: every METADATA header and the description
body, the entry points, every installed file (texts whole; a binary file, whose bytes are the
compiler's as much as the checkout's, by its presence), the scripts' names, each ``.pth``
line and where each import hook points. What two cold builds of one tree did not agree on
(``unstable``: a build id, a time) is compared by presence only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.check.findings import Findings, Kind, Unknown, Violation
from lab.projects.identity import Identity

_SHOWN = 60  # characters of a value a message shows
_MOST = 8  # differences named per runner; the rest are counted


@dataclass(frozen=True)
class ColdBuild:
    """What a cold build of one runner's checkout installs, as the oracle says it
    (``RunDir.oracle``, by runner): what the runner's install is compared with."""

    tree: str  # the checkout content's digest; "" where it could not be read
    installed: dict[str, Any] | None  # lab.installed's description; None where it failed
    unstable: frozenset[str] = frozenset()  # fields two cold builds disagree on
    error: str | None = None  # why the oracle has no description: one line
    detail: str | None = None  # and what a person reads next (the backend's last lines)
    checkout: str | None = None  # where the runner sees it: ``{checkout}`` in the texts too

    def to_dict(self) -> dict[str, Any]:
        return {
            "tree": self.tree,
            "installed": self.installed,
            "unstable": sorted(self.unstable),
            "error": self.error,
            "detail": self.detail,
            "checkout": self.checkout,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColdBuild:
        unstable = frozenset(str(f) for f in data.get("unstable") or ())
        said = (data.get("installed"), unstable, data.get("error"), data.get("detail"))
        return cls(str(data["tree"]), *said, checkout=data.get("checkout"))


def save(path: Path, by_runner: Mapping[str, ColdBuild]) -> None:
    """Write the cold builds at once: a reader never sees half a file."""
    payload = {runner: e.to_dict() for runner, e in sorted(by_runner.items())}
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def load(path: Path) -> dict[str, ColdBuild]:
    """The cold builds a run recorded; none where it recorded none (a run before the oracle)."""
    if not path.is_file():
        return {}
    return {runner: ColdBuild.from_dict(e) for runner, e in json.loads(path.read_text()).items()}


@dataclass(frozen=True)
class Difference:
    """One field where an install differs from what the checkout gives; None: absent."""

    field: str  # "METADATA Version", "file pkg/x.py", "script tool", ".pth x.pth", ...
    want: Any
    got: Any
    kind: Kind


def _pairs(want: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            yield key, want.get(key), got.get(key)


def _file_value(said: Any) -> Any:
    """What of a file is compared: its text, else its digest; a binary file, that it is."""
    if not isinstance(said, dict):
        return None
    if said.get("missing"):
        return "(in RECORD, not on disk)"
    if said.get("binary"):
        return "(binary)"
    return said.get("text", said.get("sha256"))


def _metadata(want: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    for header, w, g in _pairs(want.get("metadata") or {}, got.get("metadata") or {}):
        yield Difference(f"METADATA {header}", w, g, Kind.METADATA_DIFFERS)
    if want.get("description") != got.get("description"):
        w, g = want.get("description"), got.get("description")
        yield Difference("METADATA description", w, g, Kind.METADATA_DIFFERS)


def _installed_files(want: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    groups = _pairs(want.get("entry_points") or {}, got.get("entry_points") or {})
    for group, w, g in groups:
        for name, wv, gv in _pairs(w or {}, g or {}):
            yield Difference(f"entry point {group} {name}", wv, gv, Kind.FILES_DIFFER)
    files_w, files_g = want.get("files") or {}, got.get("files") or {}
    for rel in sorted(set(files_w) | set(files_g)):
        w, g = _file_value(files_w.get(rel)), _file_value(files_g.get(rel))
        if w != g:
            yield Difference(f"file {rel}", w, g, Kind.FILES_DIFFER)
    scripts_w, scripts_g = set(want.get("scripts") or ()), set(got.get("scripts") or ())
    for name in sorted(scripts_w ^ scripts_g):
        w, g = (name if name in scripts_w else None), (name if name in scripts_g else None)
        yield Difference(f"script {name}", w, g, Kind.FILES_DIFFER)
    if got.get("also"):
        yield Difference("second install", [], got.get("also"), Kind.FILES_DIFFER)


def _pointers(want: Mapping[str, Any], got: Mapping[str, Any]) -> Iterator[Difference]:
    for name, w, g in _pairs(want.get("pth") or {}, got.get("pth") or {}):
        yield Difference(f".pth {name}", w, g, Kind.POINTS_ELSEWHERE)
    for name, w, g in _pairs(want.get("hooks") or {}, got.get("hooks") or {}):
        yield Difference(f"import hook {name}", w, g, Kind.POINTS_ELSEWHERE)


def differences(
    want: Mapping[str, Any], got: Mapping[str, Any], unstable: frozenset[str] = frozenset()
) -> list[Difference]:
    """Where the install ``got`` differs from ``want`` (both described by
    ``lab.projects.installed``); a field in ``unstable`` counts only where one side lacks it."""
    if "missing" in want or "missing" in got:
        if ("missing" in want) == ("missing" in got):
            return []
        return [Difference("distribution", want.get("name"), got.get("name"), Kind.FILES_DIFFER)]
    found = [*_metadata(want, got), *_installed_files(want, got), *_pointers(want, got)]
    return [d for d in found if d.field not in unstable or d.want is None or d.got is None]


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list) and len(value) == 1:  # a header said once
        value = value[0]
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


def _violations(runner: str, found: list[Difference]) -> list[Violation]:
    violations = [
        Violation(
            d.kind,
            f"{runner}: {d.field} differs: installed {_shown(d.got)}, its checkout gives "
            f"{_shown(d.want)}",
            runner,
            d.field,
            d.want,
            d.got,
        )
        for d in found[:_MOST]
    ]
    if len(found) > _MOST:
        rest = [d.field for d in found[_MOST:]]
        kind = found[_MOST].kind
        message = f"{runner}: {len(rest)} more fields differ from its checkout's: {rest}"
        violations.append(Violation(kind, message[:300], runner, found=rest))
    return violations


def compare(runner: str, expected: ColdBuild, facts: Mapping[str, Any]) -> Findings:
    """One runner that exited 0: its install against its checkout's cold build."""
    if expected.installed is None:
        said = (expected.error or "").splitlines() or ["no reason recorded"]
        why = f"{runner}: the oracle could not build its checkout: {said[0]}"
        return Findings(unknowns=[Unknown(why, runner)])
    got = facts.get("installed")
    if not isinstance(got, dict) or "error" in got:
        error = got.get("error") if isinstance(got, dict) else "nothing reported"
        return Findings(unknowns=[Unknown(f"{runner}: the probe's description: {error}", runner)])
    if "missing" in got:  # said already: not-installed (lab.check.facts)
        return Findings()
    return Findings(_violations(runner, differences(expected.installed, got, expected.unstable)))


def _unjudged(runner: str, identity: Identity | None) -> list[Unknown]:
    """A runner without a cold build: a template's checkout is judged by its marker (a run
    recorded before the oracle); a project's has none, so its install cannot be judged."""
    if identity is None or identity.marker:
        return []
    why = "no cold build of its checkout is recorded (oracle.json)"
    return [Unknown(f"{runner}: {why}, and a project's checkout has no marker to judge by", runner)]


def check(
    cold_builds: Mapping[str, ColdBuild],
    exits: Mapping[str, int | None],
    facts: Mapping[str, Mapping[str, Any] | None],
    identities: Mapping[str, Identity],
) -> Findings:
    """Every runner that exited 0 and reported facts, against the oracle's cold build of
    its checkout (the facts checker says what a runner without facts is); one without a cold
    build whose checkout has no marker (a project's) is unknown."""
    found = Findings()
    for runner in dict.fromkeys([*identities, *cold_builds]):
        reported = facts.get(runner)
        if exits.get(runner) != 0 or reported is None or "probe_error" in reported:
            continue
        expected = cold_builds.get(runner)
        if expected is not None:
            found += compare(runner, expected, reported)
        else:
            found += Findings(unknowns=_unjudged(runner, identities.get(runner)))
    return found
