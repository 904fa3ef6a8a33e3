"""Each runner against its own checkout: what its venv holds (the probe's facts) must be
what building its checkout gives. A runner that exited 0 claims exactly that; one that
failed must have failed with a message, not a traceback."""

from __future__ import annotations

import re
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from lab.check.findings import Findings, Kind, Unknown, Violation
from lab.check.record import RunRecord
from lab.contract import FaultAction
from lab.identity import Expected, normalized

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
    for e in record.expected.values():
        if e.marker == marker:
            return f"checkout {e.checkout_name}'s"
    return "no checkout of this run's"


def compare(
    runner: str, expected: Expected, facts: dict[str, Any], record: RunRecord
) -> list[Violation]:
    """What in ``facts`` differs from what ``expected`` says the runner must have."""

    def violation(kind: Kind, message: str, want: Any = None, got: Any = None) -> Violation:
        return Violation(kind, f"{runner}: {message}", runner, expected.distribution, want, got)

    if not facts.get("python"):
        return [violation(Kind.NOT_INSTALLED, f"no venv at {facts.get('venv')}")]
    found: list[Violation] = []
    dist = facts.get("distribution")
    if not isinstance(dist, dict) or normalized(str(dist.get("name"))) != expected.distribution:
        found.append(violation(Kind.NOT_INSTALLED, f"{expected.distribution} is not installed"))
    else:
        if dist.get("version") != expected.version:
            found.append(
                violation(
                    Kind.WRONG_VERSION,
                    f"{expected.distribution} {dist.get('version')} installed, its checkout "
                    f"gives {expected.version}",
                    expected.version,
                    dist.get("version"),
                )
            )
        want, got = _requirements(expected.requires), _requirements(dist.get("requires"))
        if want != got:
            found.append(
                violation(
                    Kind.WRONG_REQUIREMENTS, f"requires {got}, its checkout {want}", want, got
                )
            )
    if "import_error" in facts:
        found.append(
            violation(
                Kind.NOT_INSTALLED,
                f"`import {expected.module}` fails: {facts['import_error']}",
                expected.module,
                facts["import_error"],
            )
        )
    else:
        module_file = str(facts.get("module_file"))
        if not module_file.startswith(expected.checkout.rstrip("/") + "/"):
            found.append(
                violation(
                    Kind.OUTSIDE_CHECKOUT,
                    f"{expected.module} imports from {module_file}, outside its checkout "
                    f"{expected.checkout}",
                    expected.checkout,
                    module_file,
                )
            )
        marker = facts.get("marker")
        if marker != expected.marker:
            found.append(
                violation(
                    Kind.WRONG_IDENTITY,
                    f"{expected.module} is {_whose(marker, record)} code, not its own",
                    expected.marker,
                    marker,
                )
            )
    if expected.native is not None:
        native = facts.get("native") or {}
        if native.get("result") != expected.native.result:
            call = f"{expected.native.module}.{expected.native.function}{expected.native.args}"
            answer = native.get("error", native.get("result"))
            found.append(
                violation(
                    Kind.NATIVE_MISMATCH,
                    f"{call} gives {answer!r}, not {expected.native.result!r}",
                    expected.native.result,
                    answer,
                )
            )
    if facts.get("check") != "passed" and "import_error" not in facts:
        found.append(
            violation(Kind.CHECK_FAILED, f"the template's check fails: {facts.get('check')}")
        )
    return found


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
    for runner, expected in record.expected.items():
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
