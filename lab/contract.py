"""The contract between what runs in a runner and the orchestrator. Standard library only.

A subject in a runner reports what it does as *events*: one JSON object each, written to its
output as a line ``@cachelab/<schema> {json}`` and stamped where it happened. The orchestrator
reads those lines (and, for subjects that print no events, stamps what it can parse on arrival)
into one history per run. Every name both sides must agree on lives here and nowhere else:

- the event record, its ``Op`` and ``Phase`` vocabularies, and the line that carries it;
- which clock stamped an event (``Clock``), so a checker knows how far to trust its time;
- the layout of the reference builder's cache (bucket names, the scratch and manifest names)
  and the key prefix of tree locks, which the orchestrator's metrics and checks read.

``lab.refbuilder`` runs inside runner images and imports this module; keep it stdlib-only.
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
LINE_PREFIX = f"@cachelab/{SCHEMA_VERSION} "


class Op(enum.StrEnum):
    """What an event is about."""

    RUN = "run"  # a runner's process: start, output (its first line), end (rc)
    LOCK = "lock"  # a lock: request, wait (contended only), acquired, released, timeout
    LOOKUP = "lookup"  # the reference builder looks for a cache entry: start, hit, miss
    ENV = "env"  # a build environment: hit, miss, then published, replaced or dropped
    BUILD = "build"  # the backend builds the editable wheel: start, end
    PUBLISH = "publish"  # what became of a finished build (see the publish phases)
    INSTALL = "install"  # installing the wheel into the runner's venv: start, end
    SWEEP = "sweep"  # a scratch dir of a dead builder was removed
    BUILDER = "builder"  # the reference builder: warned (it went on), failed (it gave up)
    FACTS = "facts"  # the lab's probe reports what a runner's venv holds: reported
    FAULT = "fault"  # a fault struck on purpose (a failpoint, the nemesis): struck
    SCRATCH = "scratch"  # the reference builder's private build dir: start (made), end (removed)
    STEP = "step"  # a scenario's step (the lab's, runner "lab"): start, end


class Phase(enum.StrEnum):
    """Where in its op an event is. Which phases an op has is listed at ``Op``."""

    START = "start"
    OUTPUT = "output"
    END = "end"
    REQUEST = "request"
    WAIT = "wait"
    ACQUIRED = "acquired"
    RELEASED = "released"
    TIMEOUT = "timeout"
    HIT = "hit"
    MISS = "miss"
    # publish outcomes: ours moved into place; ours replaced an invalid one; ours dropped for
    # a valid one already there; ours not published, as the entry lock was not had within the
    # lock timeout (in both, we installed ours all the same); written in place with no rename
    # (the unsafe `none` policy)
    PUBLISHED = "published"
    REPLACED = "replaced"
    DROPPED = "dropped"
    UNPUBLISHED = "unpublished"
    IN_PLACE = "in-place"
    REMOVED = "removed"
    WARNED = "warned"
    FAILED = "failed"
    REPORTED = "reported"
    STRUCK = "struck"


class LockKind(enum.StrEnum):
    """Which lock a lock event is about (the ``kind`` field)."""

    ENTRY = "entry"  # a cache entry: uv's editable lock, the reference builder's entry lock
    ENV = "env"  # a build environment being published
    ENV_MAKE = "env-make"  # a build environment being made: one runner makes it, others wait
    TREE = "tree"  # a lock inside one physical source tree
    BUILD = "build"  # a build of one key and revision under way: who would reuse it waits


class LockMode(enum.StrEnum):
    """How a lock was taken (the ``mode`` field), where the subject says."""

    EXCLUSIVE = "exclusive"
    SHARED = "shared"


class Clock(enum.StrEnum):
    """Who stamped an event, which bounds how far its time can be off."""

    SOURCE = "source"  # where it happened, inside the runner
    ARRIVAL = "arrival"  # when its output line reached the orchestrator
    ORCHESTRATOR = "orchestrator"  # by the orchestrator itself (a start, an exit)


# Data of an event stamped on another node (a swarm runner; ``Event.node`` names it): how far
# its time can be off once placed on the lab's clocks (the node's clock offset, measured).
CLOCK_ERROR_KEY = "clock_error_s"
# Seconds added to every wall-clock stamp a runner takes (its builder's and its stamper's):
# a node whose clock is off, on purpose, to show that the lab measures and corrects it.
CLOCK_SKEW_ENV = "CACHELAB_CLOCK_SKEW_S"


def wall_skew() -> float:
    """Seconds by which this runner's wall-clock stamps are off on purpose
    (``CLOCK_SKEW_ENV``); 0 unless set to a number."""
    try:
        return float(os.environ.get(CLOCK_SKEW_ENV) or 0)
    except ValueError:
        return 0.0


class Failpoint(enum.StrEnum):
    """Named places in the reference builder where a fault can be made to strike on purpose.

    Set through the environment variable ``FAILPOINTS_ENV`` as ``name=action[,...]``, where an
    action is ``pause:<seconds>``, ``kill`` (the builder), ``kill-group`` (its process group,
    children included), ``enospc`` or ``erofs`` (an OSError as a full or read-only disk gives).
    ``lock-acquired`` may name a lock kind: ``lock-acquired.tree=pause:5``. Each fires once.
    """

    LOCK_ACQUIRED = "lock-acquired"  # just after a lock was acquired
    ENV_CREATE = "env-create"  # a new build environment half installed (its first wheel in)
    MID_BUILD = "mid-build"  # the build env is ready, the backend's build hook comes next
    BEFORE_PUBLISH = "before-publish"  # built and installed; the publish (rename or manifest) next
    AFTER_PUBLISH = "after-publish"  # published; only the report comes next
    MID_INSTALL = "mid-install"  # the target venv exists, the wheel is installed next


class FaultAction(enum.StrEnum):
    PAUSE = "pause"
    KILL = "kill"
    KILL_GROUP = "kill-group"
    ENOSPC = "enospc"
    EROFS = "erofs"


FAILPOINTS_ENV = "CACHELAB_FAILPOINTS"


class FailpointError(ValueError):
    """The failpoint setting cannot be read: it names the setting and what is allowed."""


def parse_failpoints(text: str) -> dict[str, tuple[FaultAction, float]]:
    """``mid-build=pause:5,before-publish=kill`` as {point: (action, seconds)}."""
    armed: dict[str, tuple[FaultAction, float]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        point, sep, action = item.partition("=")
        name, _, argument = action.partition(":")
        try:
            chosen = FaultAction(name)
            seconds = float(argument) if chosen is FaultAction.PAUSE else 0.0
        except ValueError:
            raise FailpointError(
                f"{FAILPOINTS_ENV}: cannot read {item!r}: expected POINT=ACTION with ACTION one "
                f"of {', '.join(FaultAction)} (pause:<seconds>)"
            ) from None
        if not sep or not point:
            raise FailpointError(f"{FAILPOINTS_ENV}: cannot read {item!r}: no POINT=")
        armed[point] = (chosen, seconds)
    return armed


# The reference builder's cache, relative to the cache root.
EDITABLE_BUCKET = "editable-v1"  # <key>/.lock and <key>/<revision>/ (wheel + manifest)
ENVS_BUCKET = "envs-v1"  # <env>/, <env>.lock and <env>.make.lock: build environments
SCRATCH_DIR = "tmp"  # <id>/ and <id>.alive: private build dirs
ENTRY_MANIFEST = "entry.json"
ENTRY_LOCK = ".lock"
ENV_MANIFEST = "env.json"  # in envs-v1/<env>/
ENV_IN_USE = ".use"  # envs-v1/<env>.use: held shared by every builder using the env
SCRATCH_ALIVE = ".alive"  # tmp/<id>.alive: locked while the scratch dir's owner lives
# ... and touched every heartbeat; a sweeper takes a scratch dir only after the grace
SCRATCH_HEARTBEAT_S = 1.0
SCRATCH_GRACE_S = 5.0
# The lock file inside a source tree, and the history keys of tree locks:
# tree/<device>:<inode> of the physical tree.
TREE_LOCK_NAME = ".cachelab-tree.lock"
TREE_KEY_PREFIX = "tree/"
# The runner name of the lab's own events (a scenario's steps).
LAB_RUNNER = "lab"

_CORE = ("t_mono", "t_wall", "runner", "op", "phase", "key", "node", "clock")


@dataclass(frozen=True)
class Event:
    """One thing that happened in a run, stamped with CLOCK_MONOTONIC and the wall clock.

    CLOCK_MONOTONIC is system-wide on one host, so the stamps of runners in different
    namespaces or containers compare. ``node`` names the host where that is not the
    orchestrator's own (reserved for runners on other hosts); ``data`` holds the rest.
    """

    t_mono: float
    t_wall: float
    runner: str
    op: Op
    phase: Phase
    key: str | None = None
    clock: Clock = Clock.SOURCE
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        record: dict[str, Any] = {
            "t_mono": self.t_mono,
            "t_wall": self.t_wall,
            "runner": self.runner,
            "op": self.op.value,
            "phase": self.phase.value,
            "key": self.key,
            "clock": self.clock.value,
            "node": self.node,
        }
        record.update((k, v) for k, v in self.data.items() if k not in _CORE)
        return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Event:
        """Parse one record; ValueError (or KeyError, TypeError) for anything malformed."""
        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError("an event is a JSON object")
        key, node = record.pop("key", None), record.pop("node", None)
        return cls(
            t_mono=float(record.pop("t_mono")),
            t_wall=float(record.pop("t_wall")),
            runner=str(record.pop("runner")),
            op=Op(record.pop("op")),
            phase=Phase(record.pop("phase")),
            key=None if key is None else str(key),
            clock=Clock(record.pop("clock", Clock.SOURCE)),
            node=None if node is None else str(node),
            data=record,
        )


def event_line(event: Event) -> str:
    """The output line that carries ``event`` from a runner to the orchestrator."""
    return LINE_PREFIX + event.to_json()


def parse_event_line(line: str) -> Event | None:
    """The event on an output line, or None for any other line (or a malformed event)."""
    if not line.startswith(LINE_PREFIX):
        return None
    try:
        return Event.from_json(line[len(LINE_PREFIX) :])
    except (ValueError, KeyError, TypeError):
        return None
