"""A run's plan, made before anything is written: pure, and what the run then does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab import scenario, subjects
from lab.contract import FAILPOINTS_ENV
from lab.nemesis import RunFaults
from lab.projects import template
from lab.resources import PROBE, REFBUILDER, WHEELHOUSE, uv
from lab.run.plan import Inputs, Plan, make_plan
from lab.run.steps import CacheStep, EditStep, RunStep
from lab.rundir import RunDir
from lab.runners.local import LocalBackend
from lab.vocabulary import StepKind

_RESOURCES = {
    name: Path("/host/.lab") / name for name in (WHEELHOUSE, PROBE, REFBUILDER, uv("0.13.9"))
}


def _plan(tmp_path: Path, faults: RunFaults | None = None, **fields: Any) -> Plan:
    s = scenario.from_mapping({"name": "planned", "build_delay": 0, **fields}, "the test")
    run_dir = RunDir(tmp_path / "runs" / "20261208-000000-planned-abcd")
    inputs = Inputs(
        run_dir=run_dir,
        template=template.get(s.template),
        resources=_RESOURCES,
        binaries=frozenset(),
        cache=run_dir.cache,
        faults=faults or RunFaults(),
    )
    subject = subjects.make(s.subject, s.subject_settings())
    return make_plan(s, subject, LocalBackend(), inputs)


def test_a_plan_writes_nothing(tmp_path: Path) -> None:
    _plan(tmp_path, runners=3, subject="narrow", failpoints={"runner-2": "mid-build=kill"})
    assert list(tmp_path.iterdir()) == []


def test_runners_at_one_path_each_with_its_own_checkout_and_identity(tmp_path: Path) -> None:
    plan = _plan(tmp_path, runners=2, subject="narrow", failpoints={"runner-2": "mid-build=kill"})
    one, two = plan.runners["runner-1"], plan.runners["runner-2"]
    assert one.view.src == two.view.src  # same-path, as GitHub's runners see their checkouts
    assert (one.checkout, two.checkout) == ("runner-1", "runner-2")
    assert sorted(plan.checkouts) == ["runner-1", "runner-2"]
    # rendered alike, so alike: one marker, the digest of what they are rendered with, in
    # this run and in any other (the oracle's cache and a kept cache serve both)
    markers = {plan.identities[r].marker for r in ("runner-1", "runner-2")}
    again = _plan(tmp_path / "again", runners=2, subject="narrow")
    assert markers == {again.identities["runner-1"].marker} and len(markers.pop()) == 16
    differing = _plan(tmp_path, runners=2, checkout_versions=["1.0", "2.0"])
    one_marker, two_marker = (differing.identities[r].marker for r in ("runner-1", "runner-2"))
    assert one_marker != two_marker
    assert plan.runners["runner-2"].spec.env[FAILPOINTS_ENV] == "mid-build=kill"
    assert FAILPOINTS_ENV not in one.spec.env
    sources = {m.source for m in one.spec.mounts}
    assert {plan.run_dir.checkout("runner-1"), plan.run_dir.cache} <= sources
    assert one.spec.log_path == plan.run_dir.log("runner-1")


def test_other_topologies(tmp_path: Path) -> None:
    apart = _plan(tmp_path, runners=2, topology="different-paths")
    assert [r.view.src.rsplit("/", 1)[1] for r in apart.runners.values()] == [
        "src-runner-1",
        "src-runner-2",
    ]
    shared = _plan(tmp_path, runners=3, topology="shared-tree")
    assert list(shared.checkouts) == ["shared"]
    assert {r.checkout for r in shared.runners.values()} == {"shared"}


def test_an_edit_changes_what_each_runner_must_find_from_then_on(tmp_path: Path) -> None:
    steps = [
        {"kind": "run"},
        {"kind": "edit", "runners": ["runner-1"], "set": {"version": "2.0"}},
        {"kind": "clean", "during": 1.5},
        {"kind": "run", "runners": ["runner-2"]},
    ]
    plan = _plan(tmp_path, subject="narrow", steps=steps, template_parameters={})
    assert [s.kind for s in plan.steps] == [
        StepKind.RUN,
        StepKind.EDIT,
        StepKind.CLEAN,
        StepKind.RUN,
    ]
    edit = plan.steps[1].action
    assert isinstance(edit, EditStep)
    assert list(edit.renders) == ["runner-1"] and edit.renders["runner-1"]["version"] == "2.0"
    assert (edit.identities["runner-1"].version, edit.identities["runner-2"].version) == (
        "2.0",
        "0.1.0",
    )
    assert plan.identities["runner-1"].version == "0.1.0"  # until the edit
    # the edited checkout is another now, and its marker says so; the other keeps its own
    marker = plan.identities["runner-1"].marker
    assert edit.identities["runner-1"].marker != marker == edit.identities["runner-2"].marker
    clean, last = plan.steps[2].action, plan.steps[3].action
    assert clean == CacheStep("cache-clean-3", 1.5)
    assert last == RunStep(("runner-2",), (("runner-2", 0.0), ("cache-clean-3", 1.5)))
    cleaner = plan.runners["cache-clean-3"]
    assert cleaner.checkout == ".cache-clean-3" and cleaner.spec.argv[-3:-1] == ["clean", "--cache"]


def test_a_subject_without_a_cache_command_skips_its_step(tmp_path: Path) -> None:
    plan = _plan(tmp_path, subject="pip", steps=[{"kind": "prune"}, {"kind": "run"}])
    assert plan.steps[0].action == CacheStep(None)
    assert sorted(plan.runners) == ["runner-1", "runner-2"]


def test_placement_and_the_views_of_locks_that_lie(tmp_path: Path) -> None:
    packed = _plan(tmp_path, runners=5, runners_per_node=2)
    assert [r.spec.node for r in packed.runners.values()] == [0, 0, 1, 1, 2]
    lying = _plan(tmp_path, locks="lie")
    assert dict(lying.views_to_make) == {
        name: lying.run_dir.view(name) for name in ("runner-1", "runner-2")
    }
    assert not lying.faults.locks_exclude and lying.faults.cache_views == lying.views_to_make
    mounted = {"runner-1": tmp_path / "a", "runner-2": tmp_path / "b"}
    given = RunFaults(cache_views=mounted, locks_exclude=False)
    campaign = _plan(tmp_path, faults=given, locks="lie")  # a campaign's own views
    assert campaign.views_to_make == {} and campaign.faults == given
    (cache,) = [m for m in campaign.runners["runner-2"].spec.mounts if m.target.endswith("cache")]
    assert cache.source == tmp_path / "b"


def test_each_runner_starts_when_the_scenario_and_the_faults_say(tmp_path: Path) -> None:
    head_start = RunFaults(start_delays={"runner-1": 2.0})
    plan = _plan(tmp_path, faults=head_start, runners=3, stagger=0.5)
    (run,) = [s.action for s in plan.steps]
    assert run == RunStep(
        ("runner-1", "runner-2", "runner-3"),
        (("runner-1", 2.0), ("runner-2", 0.5), ("runner-3", 1.0)),
    )
