"""Each runner against its own checkout: what its venv holds (the probe's facts) must be
what building its checkout gives. A runner that exited 0 claims exactly that; one that
failed must have failed with a message, not a traceback."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from lab.check.findings import Findings, Kind, Unknown, Violation
from lab.check.record import RunRecord
from lab.contract import FaultAction
from lab.projects.identity import Identity, normalized

# A Python traceback's last line: the exception, e.g. "OSError: [Errno 28] No space left".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
_TRACEBACK = "Traceback (most recent call last):"
_KILLS = (FaultAction.KILL, FaultAction.KILL_GROUP)


def _requirements(texts: Any) -> list[str]:
    normal = []
    for text in texts or ():
        try:
            normal.append(str(Requirement(str(text))))
        except InvalidRequirement:
            normal.append(str(text))
    return sorted(normal)


def _whose(marker: Any, record: RunRecord) -> str:
    """Whose code a marker is: checkouts rendered alike share one."""
    names = sorted({e.checkout_name for e in record.identities.values() if e.marker == marker})
    if not names:
        return "no checkout of this run's"
    return f"checkout {names[0]}'s" if len(names) == 1 else f"checkouts {', '.join(names)}'"


class _Differs(NamedTuple):
    """One way the facts differ from the checkout: a violation before it names its runner."""

    kind: Kind
    message: str
    want: Any = None
    got: Any = None


def _distribution(expected: Identity, facts: dict[str, Any]) -> list[_Differs]:
    dist = facts.get("distribution")
    if not isinstance(dist, dict) or normalized(str(dist.get("name"))) != expected.distribution:
        return [_Differs(Kind.NOT_INSTALLED, f"{expected.distribution} is not installed")]
    found = []
    if expected.version is not None and not _same_version(dist.get("version"), expected.version):
        found.append(
            _Differs(
                Kind.WRONG_VERSION,
                f"{expected.distribution} {dist.get('version')} installed, its checkout "
                f"gives {expected.version}",
                expected.version,
                dist.get("version"),
            )
        )
    if expected.requires is None:
        return found
    want, got = _requirements(expected.requires), _requirements(dist.get("requires"))
    if want != got:
        found.append(
            _Differs(Kind.WRONG_REQUIREMENTS, f"requires {got}, its checkout {want}", want, got)
        )
    return found


def _same_version(found: Any, expected: str) -> bool:
    """Equal as PEP 440 compares them (a backend normalizes ``1.0.0-rc1`` to ``1.0.0rc1``)."""
    try:
        return Version(str(found)) == Version(expected)
    except InvalidVersion:
        return str(found) == expected


def _module(expected: Identity, facts: dict[str, Any], record: RunRecord) -> list[_Differs]:
    if expected.module is None:
        return []
    if "import_error" in facts:
        error = facts["import_error"]
        message = f"`import {expected.module}` fails: {error}"
        return [_Differs(Kind.NOT_INSTALLED, message, expected.module, error)]
    found = []
    module_file = str(facts.get("module_file"))
    if not module_file.startswith(expected.checkout.rstrip("/") + "/"):
        found.append(
            _Differs(
                Kind.OUTSIDE_CHECKOUT,
                f"{expected.module} imports from {module_file}, outside its checkout "
                f"{expected.checkout}",
                expected.checkout,
                module_file,
            )
        )
    marker = facts.get("marker")
    if expected.marker and marker != expected.marker:
        found.append(
            _Differs(
                Kind.WRONG_IDENTITY,
                f"{expected.module} is {_whose(marker, record)} code, not its own",
                expected.marker,
                marker,
            )
        )
    return found


def _native(expected: Identity, facts: dict[str, Any]) -> list[_Differs]:
    if expected.native is None:
        return []
    native = facts.get("native") or {}
    if native.get("result") == expected.native.result:
        return []
    call = f"{expected.native.module}.{expected.native.function}{expected.native.args}"
    answer = native.get("error", native.get("result"))
    message = f"{call} gives {answer!r}, not {expected.native.result!r}"
    return [_Differs(Kind.NATIVE_MISMATCH, message, expected.native.result, answer)]


def _template_check(facts: dict[str, Any]) -> list[_Differs]:
    # a module that does not import fails the check too: that is already said
    if facts.get("check") == "passed" or "import_error" in facts:
        return []
    return [_Differs(Kind.CHECK_FAILED, f"the template's check fails: {facts.get('check')}")]


def compare(
    runner: str, expected: Identity, facts: dict[str, Any], record: RunRecord
) -> list[Violation]:
    """What in ``facts`` differs from what ``expected`` says the runner must have. A project's
    version and requirements, as its files state them, give way to its cold build where the
    oracle recorded one: an in-tree backend need not build what ``[project]`` says."""
    cold = record.oracle.get(runner)
    if not expected.marker and cold is not None and cold.installed is not None:
        expected = dataclasses.replace(expected, version=None, requires=None)
    if not facts.get("python"):
        differs = [_Differs(Kind.NOT_INSTALLED, f"no venv at {facts.get('venv')}")]
    else:
        differs = [
            *_distribution(expected, facts),
            *_module(expected, facts, record),
            *_native(expected, facts),
            *_template_check(facts),
        ]
    return [
        Violation(d.kind, f"{runner}: {d.message}", runner, expected.distribution, d.want, d.got)
        for d in differs
    ]


def ended_in_traceback(output: list[str]) -> bool:
    """Whether the output ends in a Python traceback rather than in a message."""
    tail = [line for line in output if line.strip()]
    if not tail or _TRACEBACK not in tail:
        return False
    last_traceback = len(tail) - 1 - tail[::-1].index(_TRACEBACK)
    return bool(_EXCEPTION_LINE.match(tail[-1])) and last_traceback < len(tail) - 1


def check(record: RunRecord) -> Findings:
    violations: list[Violation] = []
    unknowns: list[Unknown] = []
    for runner, expected in record.identities.items():
        if runner not in record.exits:
            unknowns.append(Unknown(f"{runner} never ended", runner))
            continue
        rc = record.exits[runner]
        if rc is None or rc < 0 or rc > 128:
            # killed: by a fault on purpose (a visible failure, nothing to judge in its venv),
            # or by the lab at the end of its time (it could not finish: unknown)
            killers = [e for e in record.struck(runner) if e.data.get("action") in _KILLS]
            if not killers:
                unknowns.append(Unknown(f"{runner} was killed (exit {rc})", runner))
        elif rc != 0:
            if ended_in_traceback(record.output(runner)):
                last = [line for line in record.output(runner) if line.strip()][-1]
                violations.append(
                    Violation(
                        Kind.UNCLEAN_FAILURE,
                        f"{runner}: exited {rc} with a traceback: {last}",
                        runner,
                        found=last,
                    )
                )
        else:
            facts = record.facts(runner)
            if facts is None:
                unknowns.append(Unknown(f"{runner} exited 0 but reported no facts", runner))
            elif "probe_error" in facts:
                unknowns.append(
                    Unknown(f"{runner}: the probe failed: {facts['probe_error']}", runner)
                )
            else:
                violations += compare(runner, expected, facts, record)
    return Findings(violations, unknowns)
