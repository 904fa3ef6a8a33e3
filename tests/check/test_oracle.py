"""The oracle's checker, on a recorded run (``narrow-oracle``: its ``oracle.json`` and each
runner's described install in its facts), changed one field at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lab import check
from lab.check import oracle
from lab.check.findings import Kind
from lab.contract import Op
from lab.vocabulary import Verdict
from tests.check.conftest import RunCopy

Recorded = Callable[[str], RunCopy]
RUN = "narrow-oracle"


def _plant(run: RunCopy, runner: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change what ``runner``'s facts say is installed, as a stale venv would show it."""

    def planted(event: dict[str, Any]) -> dict[str, Any]:
        if event["op"] == Op.FACTS and event["runner"] == runner:
            change(event["installed"])
        return event

    run.rewrite_history(planted)


def _oracle(run: RunCopy) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run.run_dir.oracle.read_text())
    return data


def _violations(run: RunCopy) -> list[tuple[Kind, str]]:
    return [(v.kind, v.message) for v in check.check(run.root).violations]


def test_the_recorded_run_is_valid_and_its_installs_are_the_oracles(recorded: Recorded) -> None:
    run = recorded(RUN)
    report = check.check(run.root)
    assert (report.verdict, report.violations, report.unknowns) == (Verdict.VALID, [], [])
    said = _oracle(run)
    assert said["runner-1"]["tree"] == said["runner-2"]["tree"]  # checkouts alike are alike
    assert said["runner-1"]["installed"]["pth"] == {
        "_editable_impl_uv_demo.pth": ["{checkout}/src"]
    }


def test_a_stale_description_is_named_with_both_values(recorded: Recorded) -> None:
    run = recorded(RUN)
    _plant(run, "runner-2", lambda d: d.update(description="The old README.\n"))
    assert _violations(run) == [
        (
            Kind.METADATA_DIFFERS,
            "runner-2: METADATA description differs: installed 'The old README.\\n', its "
            "checkout gives ''",
        )
    ]


def test_a_header_the_checkout_does_not_give(recorded: Recorded) -> None:
    run = recorded(RUN)
    _plant(run, "runner-1", lambda d: d["metadata"].update({"Requires-Dist": ["filelock"]}))
    assert _violations(run) == [
        (
            Kind.METADATA_DIFFERS,
            "runner-1: METADATA Requires-Dist differs: installed 'filelock', its checkout gives "
            "nothing",
        )
    ]


def test_a_pth_that_points_elsewhere_and_a_missing_script(recorded: Recorded) -> None:
    run = recorded(RUN)

    def elsewhere(d: dict[str, Any]) -> None:
        d["pth"] = {"_editable_impl_uv_demo.pth": ["/src-runner-1/src"]}

    _plant(run, "runner-1", elsewhere)
    said = _oracle(run)
    said["runner-2"]["installed"]["scripts"] = ["uv-demo"]  # the checkout gives a script
    run.run_dir.oracle.write_text(json.dumps(said))
    assert [k for k, _ in _violations(run)] == [Kind.POINTS_ELSEWHERE, Kind.FILES_DIFFER]
    assert _violations(run)[1][1] == (
        "runner-2: script uv-demo differs: installed nothing, its checkout gives 'uv-demo'"
    )


def test_what_two_cold_builds_disagree_on_counts_by_presence_only(recorded: Recorded) -> None:
    run = recorded(RUN)
    said = _oracle(run)
    said["runner-1"]["unstable"] = ["file {dist-info}/WHEEL"]
    run.run_dir.oracle.write_text(json.dumps(said))
    _plant(run, "runner-1", lambda d: d["files"]["{dist-info}/WHEEL"].update(text="built again"))
    assert _violations(run) == []
    _plant(run, "runner-1", lambda d: d["files"].pop("{dist-info}/WHEEL"))
    assert [k for k, _ in _violations(run)] == [Kind.FILES_DIFFER]


def test_an_oracle_that_could_not_build_leaves_a_successful_runner_unknown(
    recorded: Recorded,
) -> None:
    run = recorded(RUN)
    said = _oracle(run)
    said["runner-2"] = {"tree": "t", "installed": None, "error": "no compiler here"}
    run.run_dir.oracle.write_text(json.dumps(said))
    report = check.check(run.root)
    assert report.verdict is Verdict.UNKNOWN and report.violations == []
    assert [u.reason for u in report.unknowns] == [
        "runner-2: the oracle could not build its checkout: no compiler here"
    ]


def test_a_run_recorded_before_the_oracle_is_judged_without_it(recorded: Recorded) -> None:
    run = recorded(RUN)
    _plant(run, "runner-2", lambda d: d.update(description="stale"))
    run.run_dir.oracle.unlink()
    assert check.check(run.root).verdict is Verdict.VALID


def _as_a_projects(run: RunCopy) -> None:
    """The recorded checkouts, said as a project's are: no marker of their own."""
    identities = run.identities()
    for said in identities.values():
        said["marker"] = ""
    run.rewrite_identities(identities)


def test_a_projects_runner_without_a_cold_build_is_unknown(recorded: Recorded) -> None:
    """A project's checkout has no marker: without the oracle's cold build, what its runner
    installed is barely judged (that the distribution is there), so it is unknown, never
    valid; a template's checkout is judged by its marker (above)."""
    run = recorded(RUN)
    _as_a_projects(run)
    assert check.check(run.root).verdict is Verdict.VALID  # the oracle judged it
    said = _oracle(run)
    del said["runner-2"]
    run.run_dir.oracle.write_text(json.dumps(said))
    report = check.check(run.root)
    assert (report.verdict, report.outcomes["runner-1"]) == (Verdict.UNKNOWN, "valid")
    assert [u.reason for u in report.unknowns] == [
        "runner-2: no cold build of its checkout is recorded (oracle.json), and a project's "
        "checkout has no marker to judge by"
    ]
    run.run_dir.oracle.unlink()
    assert [u.runner for u in check.check(run.root).unknowns] == ["runner-1", "runner-2"]


def test_a_projects_cold_build_outranks_what_its_files_say(recorded: Recorded) -> None:
    """An in-tree backend need not build what ``[project]`` says (the fuzzer met one that
    ignores its dependencies): where the oracle built the checkout, the project's stated
    version and requirements are not held against the install; its cold build is."""
    run = recorded(RUN)
    _as_a_projects(run)
    identities = run.identities()
    identities["runner-1"].update(requires=["filelock"], version="9.9")
    run.rewrite_identities(identities)
    assert check.check(run.root).verdict is Verdict.VALID
    run.run_dir.oracle.unlink()  # without it, what the files say is all there is
    assert {v.kind for v in check.check(run.root).violations} == {
        Kind.WRONG_REQUIREMENTS,
        Kind.WRONG_VERSION,
    }


def test_messages_stay_one_line_and_many_differences_are_counted() -> None:
    want = {"metadata": {}, "files": {f"pkg/m{i}.py": {"text": "x"} for i in range(12)}}
    got = {"metadata": {"Summary": ["é" * 500]}, "files": {}}
    found = oracle.compare("runner-1", oracle.ColdBuild("t", want), {"installed": got}).violations
    assert len(found) == 9 and all("\n" not in v.message for v in found)
    assert found[0].message.startswith("runner-1: METADATA Summary differs: installed 'ééé")
    assert len(found[0].message) < 200
    assert found[-1].message.startswith("runner-1: 5 more fields differ from its checkout's:")


def test_cold_builds_round_trip_and_are_written_whole(tmp_path: Any) -> None:
    path = tmp_path / "oracle.json"
    said = {"runner-1": oracle.ColdBuild("t", {"x": 1}, frozenset({"file a"}))}
    oracle.save(path, said)
    assert oracle.load(path) == said
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.json"]
    assert oracle.load(tmp_path / "none.json") == {}


def test_the_oracles_names_are_not_the_catalogs() -> None:
    """``lab.scenario.Expectation`` is what the catalog expects of a subject; what the oracle
    says a checkout gives is named apart, in ``lab.oracle`` and in ``lab.check.oracle``."""
    from lab import oracle as cold
    from lab import scenario

    public = set(cold.__all__) | {n for n in vars(oracle) if n[:1].isupper()}
    assert public & set(scenario.__all__) == set()
