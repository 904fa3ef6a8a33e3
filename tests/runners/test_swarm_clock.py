"""Stamps taken on another node land on the lab's clocks: the stamper's exchange through a
shared directory, and what the lab makes of it. Real processes and files, no swarm."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.contract import CLOCK_SKEW_ENV
from lab.runners.swarm import stamp
from lab.runners.swarm.clock import UNMEASURED_ERROR_S, ClockServer, node_clock


def test_the_stamper_and_the_lab_agree_on_the_name_of_the_skew() -> None:
    assert stamp.SKEW_ENV == CLOCK_SKEW_ENV  # the stamper imports nothing of the lab


def _stamped(tmp_path: Path, script: str, skew: float = 0.0) -> tuple[list[list[str]], int]:
    clocks = tmp_path / "clock"
    clocks.mkdir()
    with ClockServer(clocks):
        proc = subprocess.run(
            [
                sys.executable,
                "-I",
                stamp.__file__,
                str(clocks),
                "runner-1",
                "--",
                "sh",
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", CLOCK_SKEW_ENV: str(skew)},
            timeout=30,
            check=False,
        )
    assert proc.stderr == ""
    lines = [line.split(" ") for line in proc.stdout.splitlines()]
    assert all(fields[0] == stamp.MARK for fields in lines)
    return [fields[1:] for fields in lines], proc.returncode


def test_every_line_is_stamped_between_two_clock_exchanges_and_the_exit_comes_last(
    tmp_path: Path,
) -> None:
    said, rc = _stamped(tmp_path, "echo one; echo two >&2; printf 'no newline'; exit 3")
    assert rc == 3
    assert said[0][:2] == ["clock", "start"] and said[-2][:2] == ["clock", "end"]
    assert said[-1] == ["exit", "3"]
    lines = {(f[1], " ".join(f[3:])) for f in said if f[0] == "line"}
    assert lines == {("stdout", "one"), ("stderr", "two"), ("stdout", "no newline")}
    start = float(said[0][2])
    assert all(start <= float(f[2]) for f in said if f[0] == "line")


@pytest.mark.parametrize("skew", [0.0, -42.5, 3600.0])
def test_a_node_clock_that_is_off_is_measured_and_placed_back(tmp_path: Path, skew: float) -> None:
    said, _ = _stamped(tmp_path, "sleep 0.2; echo done", skew)
    exchanges = {f[1]: (float(f[2]), float(f[3]), float(f[4])) for f in said if f[0] == "clock"}
    clock = node_clock("node-2", exchanges, time.time() - time.monotonic())
    # The node's clock is this host's, plus the skew: the shift undoes the skew, and a line
    # lands between the two exchanges, after the command's sleep, on the lab's clock.
    assert 0.0 < clock.error_s < 0.05
    assert clock.shift_s + skew == pytest.approx(time.monotonic() - time.time(), abs=0.05)
    done = next(float(f[2]) for f in said if f[0] == "line")
    placed, _ = clock.place(done)
    started, ended = exchanges["start"][2], exchanges["end"][2]
    assert started + 0.2 - clock.error_s <= placed <= ended + clock.error_s
    assert list((tmp_path / "clock").iterdir()) == []  # a later step's exchange starts clean


def test_two_exchanges_bound_the_offset_by_their_round_trips_and_the_drift() -> None:
    exchanges = {
        "start": (100.0, 100.002, 5.0),  # shift 5.0 - 100.001 = -95.001, error 1 ms
        "end": (110.0, 110.004, 15.002),  # shift -95.0, error 2 ms
    }
    clock = node_clock("node-1", exchanges, 1000.0)
    assert clock.shift_s == pytest.approx(-95.0005)
    assert clock.error_s == pytest.approx(0.002 + 0.0005)
    assert clock.place(105.0) == pytest.approx((9.9995, 1009.9995))


def test_a_node_whose_clock_was_never_measured_is_placed_with_a_wide_error() -> None:
    clock = node_clock("node-1", {}, 1000.0)
    assert clock.error_s == UNMEASURED_ERROR_S
    assert clock.place(1500.0) == pytest.approx((500.0, 1500.0))
