"""The lab's words, as types. ``docs/architecture.md`` defines each; every command uses them.

- A *subject* is what runs in a runner and is measured (``lab.subjects``).
- A run's *status* says how its runners ended; its *verdict* whether what they did was safe.
- An *outcome* is the verdict of one runner or one trial, with failing cleanly told apart.
- *Serialized*: a runner waited on another's hold for half a build or more, then built
  anyway. *Coalesced*: it waited, then reused what the holder built.
- A *step* is one of a scenario's actions, taken in turn on one cache; a *topology* is how
  runners see their checkouts.
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


class StepKind(enum.StrEnum):
    """What one of a scenario's steps does (the ``kind`` of a ``step`` event); steps run one
    after another on the same cache."""

    RUN = "run"  # every runner (or those named) runs the subject, in parallel
    DELETE = "delete"  # remove what a glob matches inside each checkout (a build's .so, say)
    EDIT = "edit"  # render each checkout again with changed parameters (a new version, say)
    PRUNE = "prune"  # the subject's own cache prune, by a runner of its own
    CLEAN = "clean"  # the subject's own cache clean, by a runner of its own


class Topology(enum.StrEnum):
    SAME_PATH = "same-path"  # a checkout per runner, all mounted at one path (GitHub runners)
    DIFFERENT_PATHS = "different-paths"  # a checkout per runner, each at its own path
    SHARED_TREE = "shared-tree"  # one checkout mounted into every runner (uv #13703)


def runner_names(count: int) -> list[str]:
    """The names of a scenario's ``count`` runners."""
    return [f"runner-{i}" for i in range(1, count + 1)]
