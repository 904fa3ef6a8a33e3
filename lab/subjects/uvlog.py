"""Parse uv's lock log lines into observations about the editable-build cache lock.

uv prints no timestamps, so the caller stamps each line when it arrives. Formats differ by
version:

- 0.8.12:  ``INFO Waiting to acquire lock for `R` at `P```, ``DEBUG Acquired lock for `R```
- 0.9.16+: ``Waiting to acquire exclusive lock ...``, ``Acquired exclusive lock for `R```
- 0.10.3+: Acquired/Released at TRACE level, so RUST_LOG must say ``uv_fs=trace``.

``Checking lock for `R` at `P``` (TRACE) comes before every attempt, contended or not; an
uncontended acquire has no Waiting line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.contract import LockMode, Phase

# Enough for every version: trace includes debug and info.
RUST_LOG = "uv_fs=trace"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MODE = r"(?:(?P<mode>exclusive|shared) )?"
_PATTERNS = (
    (Phase.REQUEST, re.compile(r"\bChecking lock for `(?P<resource>[^`]+)` at `(?P<lock>[^`]+)`")),
    (
        Phase.WAIT,
        re.compile(
            rf"\bWaiting to acquire {_MODE}lock for `(?P<resource>[^`]+)` at `(?P<lock>[^`]+)`"
        ),
    ),
    (Phase.ACQUIRED, re.compile(rf"\bAcquired {_MODE}lock for `(?P<resource>[^`]+)`")),
    (Phase.RELEASED, re.compile(r"\bReleased lock at `(?P<lock>[^`]+)`")),
    (
        Phase.TIMEOUT,
        re.compile(
            r"\bTimeout \((?P<seconds>\d+)s\) when waiting for lock on `(?P<resource>[^`]+)`"
        ),
    ),
)
# The editable entry itself, not files below it (uv also locks `<key>/<rev>/<wheel>.lock`).
_EDITABLE_RESOURCE = re.compile(r"(?:^|/)(?P<key>sdists-v\d+/editable/[^/]+)/?$")
_EDITABLE_LOCKFILE = re.compile(r"(?:^|/)(?P<key>sdists-v\d+/editable/[^/]+)/\.lock$")


@dataclass(frozen=True)
class LockLine:
    """One lock log line about an editable cache entry."""

    phase: Phase  # request, wait, acquired, released, timeout
    key: str  # e.g. "sdists-v11/editable/1de208056d3879b5", relative to the cache
    mode: LockMode | None = None  # where the version says so
    lock: str | None = None  # the lock file as uv printed it
    timeout_s: int | None = None


def parse_line(line: str) -> LockLine | None:
    """Return the editable-lock event in ``line``, or None for any other line."""
    text = _ANSI.sub("", line)
    for phase, pattern in _PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("resource") is not None:
            key_match = _EDITABLE_RESOURCE.search(groups["resource"])
        else:
            key_match = _EDITABLE_LOCKFILE.search(groups["lock"])
        if key_match is None:
            return None
        seconds = groups.get("seconds")
        return LockLine(
            phase=phase,
            key=key_match["key"],
            mode=LockMode(groups["mode"]) if groups.get("mode") else None,
            lock=groups.get("lock"),
            timeout_s=int(seconds) if seconds else None,
        )
    return None
