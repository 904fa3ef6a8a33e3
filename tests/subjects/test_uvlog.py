from __future__ import annotations

import pytest

from lab.contract import Phase
from lab.subjects.uvlog import LockLine, parse_line
from tests.conftest import FIXTURES

LOGS = FIXTURES / "uvlog"


def _phases(name: str) -> list[LockLine]:
    lines = (LOGS / name).read_text().splitlines()
    return [p for p in map(parse_line, lines) if p is not None]


@pytest.mark.parametrize(
    ("log", "key", "phases"),
    [
        (
            "uv-0.13.9-runner-1.log",
            "sdists-v11/editable/dcdcb066ce5784cb",
            [Phase.REQUEST, Phase.ACQUIRED, Phase.RELEASED],
        ),
        (
            "uv-0.13.9-runner-2.log",
            "sdists-v11/editable/dcdcb066ce5784cb",
            [Phase.REQUEST, Phase.WAIT, Phase.ACQUIRED, Phase.RELEASED],
        ),
        (
            "uv-0.8.12-runner-1.log",
            "sdists-v9/editable/dcdcb066ce5784cb",
            [Phase.REQUEST, Phase.ACQUIRED, Phase.RELEASED],
        ),
        (
            "uv-0.8.12-runner-2.log",
            "sdists-v9/editable/dcdcb066ce5784cb",
            [Phase.REQUEST, Phase.WAIT, Phase.ACQUIRED, Phase.RELEASED],
        ),
        (
            "seed-issue-15380.log",
            "sdists-v9/editable/1de208056d3879b5",
            [Phase.WAIT, Phase.ACQUIRED, Phase.RELEASED],
        ),
    ],
)
def test_real_logs_give_the_editable_lock_sequence(log: str, key: str, phases: list[Phase]) -> None:
    parsed = _phases(log)
    assert [p.phase for p in parsed] == phases
    assert {p.key for p in parsed} == {key}


def test_mode_is_read_where_the_version_prints_it() -> None:
    new = {p.phase: p.mode for p in _phases("uv-0.13.9-runner-2.log")}
    old = {p.phase: p.mode for p in _phases("uv-0.8.12-runner-2.log")}
    assert new[Phase.WAIT] == new[Phase.ACQUIRED] == "exclusive"
    assert old[Phase.WAIT] is old[Phase.ACQUIRED] is None


REVISION_LOCK = "/c/sdists-v11/editable/dcdc/-4C3Zx/0.1.0-py3-none-any.lock"


def test_locks_below_the_entry_and_elsewhere_are_ignored() -> None:
    lines = [
        f"TRACE Acquired exclusive lock for `{REVISION_LOCK}`",
        f"TRACE Released lock at `{REVISION_LOCK}`",
        "TRACE Acquired shared lock for `/c`",
        "DEBUG Acquired lock for `/src`",
        "TRACE Released lock at `/tmp/uv-a307630218d6a300.lock`",
        "      Built uv-demo @ file:///src",
    ]
    assert [parse_line(line) for line in lines] == [None] * len(lines)


def test_timeout_line() -> None:
    line = (
        "error: Timeout (300s) when waiting for lock on `/cache/sdists-v11/editable/ab12` at "
        "`/cache/sdists-v11/editable/ab12/.lock`, is another uv process running? You can set "
        "`UV_LOCK_TIMEOUT` to increase the timeout."
    )
    parsed = parse_line(line)
    assert parsed == LockLine(Phase.TIMEOUT, "sdists-v11/editable/ab12", timeout_s=300)


def test_color_codes_do_not_hide_a_line() -> None:
    line = (
        "\x1b[32mINFO\x1b[0m Waiting to acquire lock for `/c/sdists-v9/editable/k` "
        "at `/c/sdists-v9/editable/k/.lock`"
    )
    parsed = parse_line(line)
    assert parsed is not None and parsed.phase == Phase.WAIT
