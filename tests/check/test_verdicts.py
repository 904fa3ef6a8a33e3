"""Every verdict path of the checker, on recorded run directories with one thing changed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab import check
from lab.check import Kind
from lab.contract import LAB_RUNNER, Op, Phase
from lab.errors import UsageError
from lab.rundir import RunDir
from lab.vocabulary import Outcome, StepKind, Verdict
from tests.check.conftest import RunCopy

Recorded = Callable[[str], RunCopy]


def _kinds(report: check.Judgement) -> list[Kind]:
    return [v.kind for v in report.violations]


@pytest.mark.parametrize("name", ["uv-valid", "narrow-valid"])
def test_real_runs_are_valid(recorded: Recorded, name: str) -> None:
    report = check.check(recorded(name).root)
    assert (report.verdict, report.violations, report.unknowns) == (Verdict.VALID, [], [])
    assert report.outcomes == {"runner-1": Outcome.VALID, "runner-2": Outcome.VALID}


def test_a_stale_version_names_the_runner_and_both_versions(recorded: Recorded) -> None:
    report = check.check(recorded("narrow-stale-version").root)
    assert report.verdict is Verdict.INVALID
    (wrong,) = report.violations
    assert (wrong.kind, wrong.runner, wrong.expected, wrong.found) == (
        Kind.WRONG_VERSION,
        "runner-1",
        "1.0",
        "2.0",
    )
    assert wrong.message == "runner-1: uv-demo 2.0 installed, its checkout gives 1.0"
    assert report.outcomes == {"runner-1": Outcome.INVALID, "runner-2": Outcome.VALID}


@pytest.mark.parametrize("name", ["uv-valid", "narrow-valid"])
def test_one_flipped_byte_in_a_cached_wheel_is_named(recorded: Recorded, name: str) -> None:
    run = recorded(name)
    wheel = run.wheels()[0]
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    report = check.check(run.root)
    assert report.verdict is Verdict.INVALID
    rel = wheel.relative_to(run.root / "cache").as_posix()
    assert any(v.kind is Kind.CORRUPT_WHEEL and v.key == rel for v in report.violations)
    if name == "narrow-valid":  # its manifest and its publish event say which wheel it was
        assert {Kind.MANIFEST_MISMATCH, Kind.REWRITTEN_ENTRY} <= set(_kinds(report))


def test_an_unpacked_wheel_that_changed_is_named(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    record = sorted((run.root / "cache" / "archive-v0").glob("*/uv_demo-*.dist-info/RECORD"))[0]
    pth = next(record.parent.parent.glob("*.pth"))
    pth.write_text("/somewhere/else\n")
    report = check.check(run.root)
    assert _kinds(report) == [Kind.CORRUPT_ARCHIVE]
    assert f"{pth.name} does not match its RECORD hash" in report.violations[0].message


def test_a_wheel_replaced_whole_after_its_publish_is_named(recorded: Recorded) -> None:
    """A self-consistent wheel and manifest, but not what the history says was published."""
    run = recorded("narrow-valid")

    def other_digest(e: dict[str, Any]) -> dict[str, Any]:
        if e["op"] == Op.PUBLISH and e["phase"] == Phase.PUBLISHED:
            e["sha256"] = "0" * 64
        return e

    run.rewrite_history(other_digest)
    report = check.check(run.root)
    assert _kinds(report) == [Kind.REWRITTEN_ENTRY]
    assert report.violations[0].expected == "0" * 64


def _swap_markers(run: RunCopy) -> None:
    expected = run.identities()
    one, two = expected["runner-1"], expected["runner-2"]
    one["marker"], two["marker"] = two["marker"], one["marker"]
    run.rewrite_identities(expected)


def test_another_checkouts_code_is_named_by_whose_it_is(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    _swap_markers(run)
    report = check.check(run.root)
    assert _kinds(report) == [Kind.WRONG_IDENTITY, Kind.WRONG_IDENTITY]
    assert report.violations[0].message == (
        "runner-1: uv_demo is checkout runner-2's code, not its own"
    )


def test_code_that_checkouts_rendered_alike_share_names_them_all(recorded: Recorded) -> None:
    """Checkouts rendered alike carry one marker: a module with it is theirs, all named."""
    run = recorded("narrow-valid")
    expected = run.identities()
    one, two = expected["runner-1"], expected["runner-2"]
    theirs, one["marker"] = one["marker"], "another"
    two["marker"] = theirs
    expected["runner-3"] = {**two, "checkout_name": "runner-3"}  # rendered as runner-2's
    run.rewrite_identities(expected)
    report = check.check(run.root)
    assert report.violations[0].message == (
        "runner-1: uv_demo is checkouts runner-2, runner-3' code, not its own"
    )


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("checkout", "/elsewhere", Kind.OUTSIDE_CHECKOUT),
        ("requires", ["packaging>=20"], Kind.WRONG_REQUIREMENTS),
        ("distribution", "other-demo", Kind.NOT_INSTALLED),
        (
            "native",
            {"module": "uv_demo", "function": "hello", "args": [], "result": "no"},
            Kind.NATIVE_MISMATCH,
        ),
    ],
)
def test_each_fact_is_compared(recorded: Recorded, field: str, value: Any, kind: Kind) -> None:
    run = recorded("uv-valid")
    expected = run.identities()
    expected["runner-2"][field] = value
    run.rewrite_identities(expected)
    report = check.check(run.root)
    assert _kinds(report) == [kind]
    assert report.violations[0].runner == "runner-2"
    assert report.outcomes == {"runner-1": Outcome.VALID, "runner-2": Outcome.INVALID}


def test_a_projects_checkout_is_held_to_what_its_files_say(recorded: Recorded) -> None:
    """A project has no marker, and a field its files leave to the build (None) is the
    oracle's to judge; the rest is compared as for a template: a version, equal as PEP 440
    compares them, and where the module would import from. This run recorded no cold build,
    so no runner is valid: each is unknown for that alone."""
    run = recorded("uv-valid")
    expected = run.identities()
    for runner in expected.values():
        runner.update(marker="", requires=None, native=None)
    expected["runner-1"]["version"] = None
    expected["runner-2"]["version"] = "0.1.0.0"  # 0.1.0 as PEP 440 compares
    run.rewrite_identities(expected)
    no_oracle = ["no cold build of its checkout is recorded (oracle.json)"] * 2
    assert _unjudged(check.check(run.root)) == no_oracle
    expected["runner-2"]["version"] = "0.2"
    expected["runner-1"]["checkout"] = "/elsewhere"
    run.rewrite_identities(expected)
    assert _kinds(check.check(run.root)) == [Kind.OUTSIDE_CHECKOUT, Kind.WRONG_VERSION]
    for runner in expected.values():
        runner.update(module=None, version=None)
    run.rewrite_identities(expected)
    assert _unjudged(check.check(run.root)) == no_oracle  # nothing to find: the oracle's


def _unjudged(report: check.Judgement) -> list[str]:
    """Why each runner is unknown, where nothing is invalid."""
    assert report.violations == [] and report.verdict is Verdict.UNKNOWN
    return [u.reason.split(": ", 1)[1].split(",")[0] for u in report.unknowns]


def _facts_of(runner: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Any:
    def rewrite(e: dict[str, Any]) -> dict[str, Any] | None:
        return change(e) if e["op"] == Op.FACTS and e["runner"] == runner else e

    return rewrite


def test_a_module_that_does_not_import_is_not_installed(recorded: Recorded) -> None:
    run = recorded("narrow-valid")

    def broken(e: dict[str, Any]) -> dict[str, Any]:
        for key in ("module_file", "marker"):
            e.pop(key)
        e["import_error"] = "ModuleNotFoundError: No module named 'uv_demo'"
        e["check"] = "ModuleNotFoundError: No module named 'uv_demo'"
        return e

    run.rewrite_history(_facts_of("runner-1", broken))
    report = check.check(run.root)
    assert _kinds(report) == [Kind.NOT_INSTALLED]
    assert "`import uv_demo` fails: ModuleNotFoundError" in report.violations[0].message


def test_a_failing_template_check_is_named(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    run.rewrite_history(_facts_of("runner-2", lambda e: {**e, "check": "AssertionError"}))
    assert _kinds(check.check(run.root)) == [Kind.CHECK_FAILED]


def test_success_without_facts_is_unknown(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    run.rewrite_history(_facts_of("runner-2", lambda _event: None))
    report = check.check(run.root)
    assert (report.verdict, report.violations) == (Verdict.UNKNOWN, [])
    assert [u.reason for u in report.unknowns] == ["runner-2 exited 0 but reported no facts"]
    assert report.outcomes["runner-2"] is Outcome.UNKNOWN


def _exit(runner: str, rc: int | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(e: dict[str, Any]) -> dict[str, Any]:
        if e["op"] == Op.RUN and e["phase"] == Phase.END and e["runner"] == runner:
            e["rc"] = rc
        return e

    return change


def test_a_runner_the_lab_killed_is_unknown(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    run.rewrite_history(_exit("runner-1", None))
    report = check.check(run.root)
    assert report.verdict is Verdict.UNKNOWN
    assert report.outcomes == {"runner-1": Outcome.UNKNOWN, "runner-2": Outcome.VALID}


def test_a_failure_ends_in_a_message_or_is_unclean(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    run.rewrite_history(_exit("runner-2", 1))
    log = run.run_dir.log("runner-2")
    clean = log.read_text() + "9.0 stderr error: cannot lock /cache/x: [Errno 37] No locks\n"
    log.write_text(clean)
    report = check.check(run.root)
    assert (report.verdict, report.outcomes["runner-2"]) == (Verdict.VALID, Outcome.FAILED_CLEAN)
    log.write_text(
        clean
        + "9.1 stderr Traceback (most recent call last):\n"
        + '9.1 stderr   File "x.py", line 1, in <module>\n'
        + "9.1 stderr OSError: [Errno 28] No space left on device\n"
    )
    report = check.check(run.root)
    assert _kinds(report) == [Kind.UNCLEAN_FAILURE]
    assert report.violations[0].found == "OSError: [Errno 28] No space left on device"


def test_scratch_left_by_runners_that_exited_is_a_leak(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    (run.run_dir.cache / "tmp" / "0123abcd").mkdir(parents=True)
    assert check.check(run.root).verdict is Verdict.VALID  # not this run's: a sweep's to take
    end = _end_of(run, "runner-1")
    made = {**_scratch("runner-1", Phase.START, Op.SCRATCH, end - 1.0), "key": "tmp/0123abcd"}
    with run.run_dir.history.open("a") as f:
        f.write(json.dumps(made) + "\n")
    assert _kinds(check.check(run.root)) == [Kind.LEAKED_SCRATCH]
    # a cache step's own runner, which the scenario did not ask for, changes nothing
    cleaner = {**_scratch("cache-clean", Phase.END, Op.RUN, end), "rc": 0}
    with run.run_dir.history.open("a") as f:
        f.write(json.dumps(cleaner) + "\n")
    assert _kinds(check.check(run.root)) == [Kind.LEAKED_SCRATCH]
    run.rewrite_history(_exit("runner-1", -9))  # killed: the next run's sweep removes it
    assert check.check(run.root).verdict is Verdict.UNKNOWN


def _handover(run: RunCopy) -> tuple[str, str, float]:
    """The runner that waited, the one it waited for, and the time from the holder's release
    to the waiter's acquire."""
    events = run.history()
    waiter = next(e["runner"] for e in events if e["op"] == Op.LOCK and e["phase"] == Phase.WAIT)
    holder = next(e["runner"] for e in events if e["op"] == Op.RUN and e["runner"] != waiter)
    acquired = next(
        e["t_mono"]
        for e in events
        if e["op"] == Op.LOCK and e["phase"] == Phase.ACQUIRED and e["runner"] == waiter
    )
    released = next(
        e["t_mono"]
        for e in events
        if e["op"] == Op.LOCK and e["phase"] == Phase.RELEASED and e["runner"] == holder
    )
    return waiter, holder, acquired - released


def _acquire_earlier(run: RunCopy, runner: str, by: float) -> None:
    def change(e: dict[str, Any]) -> dict[str, Any]:
        if e["op"] == Op.LOCK and e["phase"] == Phase.ACQUIRED and e["runner"] == runner:
            e["t_mono"] -= by
        return e

    run.rewrite_history(change)


def test_two_holders_at_once_are_named_with_the_lock(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    waiter, holder, gap = _handover(run)
    _acquire_earlier(run, waiter, gap + 0.2)  # 0.2 s before the holder let go
    report = check.check(run.root)
    assert _kinds(report) == [Kind.OVERLAPPING_HOLDS]
    assert report.violations[0].message.startswith(
        f"{holder} and {waiter} held sdists-v11/editable/"
    )


def test_stamp_jitter_on_arrival_is_no_overlap(recorded: Recorded) -> None:
    """uv's lines are stamped on arrival: an acquire seen 50 ms before the release it
    followed is two reader threads racing, not two holders."""
    run = recorded("uv-valid")
    waiter, _, gap = _handover(run)
    _acquire_earlier(run, waiter, gap + 0.05)
    assert check.check(run.root).verdict is Verdict.VALID


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is not a run directory of this lab: expected.json"):
        check.check(tmp_path)
    RunDir(tmp_path).identities.write_text("{")
    RunDir(tmp_path).history.write_text("")
    with pytest.raises(UsageError, match="cannot read its record"):
        check.check(tmp_path)


def test_the_report_is_json(recorded: Recorded) -> None:
    report = check.check(recorded("narrow-stale-version").root)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] == "invalid"
    assert data["violations"][0]["kind"] == "wrong-version"
    assert data["outcomes"] == {"runner-1": "invalid", "runner-2": "valid"}


def test_a_distribution_vendored_inside_another_is_not_judged(recorded: Recorded) -> None:
    """setuptools vendors wheels with their dist-info, whose RECORD speaks of another root."""
    run = recorded("uv-valid")
    archive = next((run.root / "cache" / "archive-v0").glob("*/uv_demo-*.dist-info")).parent
    vendored = archive / "uv_demo" / "_vendor" / "thing-1.0.dist-info"
    vendored.mkdir(parents=True)
    (vendored / "RECORD").write_text("bin/thing,sha256=AAAA,4\n")
    assert check.check(run.root).verdict is Verdict.VALID


def _struck(runner: str, at: float, **data: Any) -> dict[str, Any]:
    return {
        "t_mono": at,
        "t_wall": at,
        "runner": runner,
        "op": Op.FAULT,
        "phase": Phase.STRUCK,
        "clock": "orchestrator",
        **data,
    }


def _end_of(run: RunCopy, runner: str) -> float:
    return float(
        next(
            e["t_mono"]
            for e in run.history()
            if e["op"] == Op.RUN and e["phase"] == Phase.END and e["runner"] == runner
        )
    )


def test_a_runner_killed_on_purpose_failed_visibly(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    run.rewrite_history(_exit("runner-2", -9))
    end = _end_of(run, "runner-2")
    with run.run_dir.history.open("a") as f:
        f.write(json.dumps(_struck("runner-2", end - 0.1, action="kill")) + "\n")
    report = check.check(run.root)
    assert (report.verdict, report.outcomes["runner-2"]) == (Verdict.VALID, Outcome.FAILED_CLEAN)


def _set_lock_timeout(run: RunCopy, seconds: float) -> None:
    path = run.run_dir.scenario
    path.write_text(json.dumps({**json.loads(path.read_text()), "lock_timeout": seconds}))


def _ask_earlier(run: RunCopy, runner: str, by: float) -> None:
    def change(e: dict[str, Any]) -> dict[str, Any]:
        if (
            e["op"] == Op.LOCK
            and e["runner"] == runner
            and e["phase"]
            in (
                Phase.REQUEST,
                Phase.WAIT,
            )
        ):
            e["t_mono"] -= by
        return e

    run.rewrite_history(change)


def test_a_wait_beyond_the_lock_timeout_is_unbounded(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    waiter, _, _ = _handover(run)
    _set_lock_timeout(run, 0.5)
    _ask_earlier(run, waiter, 3.0)  # it asked 3 s before it got the lock
    report = check.check(run.root)
    assert _kinds(report) == [Kind.UNBOUNDED_WAIT]
    assert report.violations[0].message.startswith(f"{waiter} waited 3.")
    assert report.violations[0].message.endswith("the scenario allows 0.5 s")


def test_a_waiter_paused_by_a_fault_is_not_held_to_its_timeout(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    waiter, _, _ = _handover(run)
    _set_lock_timeout(run, 0.5)
    _ask_earlier(run, waiter, 3.0)
    asked = min(e["t_mono"] for e in run.history() if e["runner"] == waiter and e["op"] == Op.LOCK)
    with run.run_dir.history.open("a") as f:
        f.write(json.dumps(_struck(waiter, asked, action="pause", seconds=3.0)) + "\n")
    assert check.check(run.root).verdict is Verdict.VALID


def test_where_locks_do_not_exclude_overlaps_are_the_environments(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    waiter, _, gap = _handover(run)
    _acquire_earlier(run, waiter, gap + 0.2)
    run.run_dir.faults.write_text(json.dumps({"locks_exclude": False}))
    assert check.check(run.root).verdict is Verdict.VALID


def _scratch(runner: str, phase: Phase, op: Op, at: float) -> dict[str, Any]:
    return {
        "t_mono": at,
        "t_wall": at,
        "runner": runner,
        "op": op,
        "phase": phase,
        "key": "tmp/0123",
        "clock": "source",
    }


def test_a_sweep_of_a_live_builders_scratch_is_named(recorded: Recorded) -> None:
    run = recorded("narrow-valid")
    end = _end_of(run, "runner-1")
    lines = [
        _scratch("runner-1", Phase.START, Op.SCRATCH, end - 1.0),
        _scratch("runner-2", Phase.REMOVED, Op.SWEEP, end - 0.5),
    ]
    with run.run_dir.history.open("a") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    report = check.check(run.root)
    assert _kinds(report) == [Kind.SWEPT_LIVE_SCRATCH]
    assert report.violations[0].message == "runner-2 swept tmp/0123, the live build dir of runner-1"
    # the same sweep after runner-1's builder was killed removed dead work: fine
    with run.run_dir.history.open("a") as f:
        f.write(json.dumps(_struck("runner-1", end - 0.8, action="kill")) + "\n")
    assert check.check(run.root).verdict is Verdict.VALID


def test_temporary_work_in_progress_is_not_judged(recorded: Recorded) -> None:
    """uv builds in ``.tmp*`` dirs; a uv killed mid-build leaves half an environment there."""
    run = recorded("uv-valid")
    half = run.root / "cache" / "builds-v0" / ".tmpAbC123" / "thing-1.0.dist-info"
    half.mkdir(parents=True)
    (half / "RECORD").write_text("thing/__init__.py,sha256=AAAA,4\n")
    assert check.check(run.root).verdict is Verdict.VALID


def test_a_cache_gone_is_unknown_unless_a_clean_step_removed_it(recorded: Recorded) -> None:
    run = recorded("uv-valid")
    shutil.rmtree(run.root / "cache")
    report = check.check(run.root)
    assert report.verdict is Verdict.UNKNOWN and "no cache at" in report.unknowns[0].reason
    step = {"t_mono": 1.0, "t_wall": 1.0, "runner": LAB_RUNNER, "op": Op.STEP.value}
    with run.run_dir.history.open("a") as history:
        history.write(json.dumps({**step, "phase": "start", "kind": StepKind.CLEAN.value}) + "\n")
    assert check.check(run.root).verdict is Verdict.VALID
