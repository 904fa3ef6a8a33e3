"""The lab's words, as types. ``docs/architecture.md`` defines each; every command uses them.

- A *subject* is what runs in a runner and is measured (``lab.subjects``).
- A run's *status* says how its runners ended; its *verdict* whether what they did was safe.
- An *outcome* is the verdict of one runner or one trial, with failing cleanly told apart.
- *Serialized*: a runner waited on another's hold for half a build or more, then built
  anyway. *Coalesced*: it waited, then reused what the holder built.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class RunStatus(enum.StrEnum):
    OK = "ok"  # every runner exited 0
    FAILED = "failed"  # a runner exited non-zero
    TIMEOUT = "timeout"  # the lab killed the runners at the scenario's timeout
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM


class Verdict(enum.StrEnum):
    VALID = "valid"  # nothing unsafe was seen
    INVALID = "invalid"  # something unsafe was seen: the reasons name it
    UNKNOWN = "unknown"  # the run ended early or facts are missing


class Outcome(enum.StrEnum):
    """One runner's or one trial's result."""

    VALID = "valid"  # it did its job and nothing unsafe was seen
    FAILED_CLEAN = "failed-clean"  # exit 1 with one line naming the lock, path or hook
    INVALID = "invalid"  # something unsafe was seen
    UNKNOWN = "unknown"  # it ended early or facts are missing


# From the best to the worst: a trial or a run is as bad as its worst part.
OUTCOME_SEVERITY = (Outcome.VALID, Outcome.FAILED_CLEAN, Outcome.UNKNOWN, Outcome.INVALID)


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=OUTCOME_SEVERITY.index, default=Outcome.UNKNOWN)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # a run failed, or its verdict is invalid
    USAGE = 2  # the input is wrong; nothing was started or written
    UNKNOWN = 3  # a verdict is unknown (a run ended early)
    INTERRUPTED = 130


EXIT_CODES_HELP = """exit codes:
  0    ok: every run completed and was judged valid
  1    failed: a runner failed, a run was judged invalid, or the backend cannot run here
  2    usage: the input is wrong; nothing was started or written
  3    unknown: a run ended early (timeout), so no verdict could be reached
  130  interrupted (Ctrl-C or SIGTERM): every runner was stopped"""
