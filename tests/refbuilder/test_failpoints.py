"""Failpoints: off unless set, each strikes once, where it is named."""

from __future__ import annotations

import errno
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.contract import (
    FAILPOINTS_ENV,
    Failpoint,
    FailpointError,
    FaultAction,
    Op,
    Phase,
    parse_event_line,
    parse_failpoints,
)
from lab.refbuilder import _failpoints, editable_argv
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents


def test_settings_are_read_or_refused_with_what_is_allowed() -> None:
    assert parse_failpoints("mid-build=pause:1.5, before-publish=kill") == {
        "mid-build": (FaultAction.PAUSE, 1.5),
        "before-publish": (FaultAction.KILL, 0.0),
    }
    assert parse_failpoints("") == {}
    for bad in ("mid-build", "mid-build=explode", "=kill", "mid-build=pause:soon"):
        with pytest.raises(FailpointError, match=FAILPOINTS_ENV):
            parse_failpoints(bad)


def test_a_point_strikes_once_with_what_it_was_set_to(
    monkeypatch: pytest.MonkeyPatch, events: RecordedEvents
) -> None:
    monkeypatch.setattr(_failpoints, "_ARMED", parse_failpoints("mid-install=enospc"))
    _failpoints.hit(Failpoint.MID_BUILD, events)  # not armed: nothing
    with pytest.raises(OSError, match="failpoint mid-install") as info:
        _failpoints.hit(Failpoint.MID_INSTALL, events)
    assert info.value.errno == errno.ENOSPC
    _failpoints.hit(Failpoint.MID_INSTALL, events)  # once only
    (struck,) = events.records
    assert (struck.op, struck.phase, struck.key) == (Op.FAULT, Phase.STRUCK, "mid-install")


def test_a_lock_point_may_name_its_kind(
    monkeypatch: pytest.MonkeyPatch, events: RecordedEvents
) -> None:
    monkeypatch.setattr(_failpoints, "_ARMED", parse_failpoints("lock-acquired.tree=pause:0.2"))
    _failpoints.hit(Failpoint.LOCK_ACQUIRED, events, "entry")  # another kind: nothing
    started = time.monotonic()
    _failpoints.hit(Failpoint.LOCK_ACQUIRED, events, "tree")
    assert time.monotonic() - started >= 0.2
    assert [e.key for e in events.records] == ["lock-acquired.tree"]


def test_a_bad_setting_is_a_usage_error_of_the_builder(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lab.refbuilder", "sweep", "--cache", str(tmp_path)],
        env={FAILPOINTS_ENV: "mid-build=explode"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "cannot read 'mid-build=explode'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
def test_kill_leaves_its_mark_in_the_history_first(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path
) -> None:
    from lab.refbuilder import Request

    src = render("src", "inplace")
    request = Request(src, tmp_path / "cache", tmp_path / "venv", wheelhouse, BASE_PYTHON)
    proc = subprocess.run(
        [sys.executable, "-m", "lab.refbuilder", *editable_argv(request, "r1")],
        env={FAILPOINTS_ENV: "mid-build=kill", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -9
    events = [e for e in map(parse_event_line, proc.stderr.splitlines()) if e is not None]
    assert (events[-1].op, events[-1].key, events[-1].data["action"]) == (
        Op.FAULT,
        "mid-build",
        "kill",
    )
