"""Subjects by name, and what each one asks of a runner."""

from __future__ import annotations

import pytest

from lab import resources, scenario, subjects, template
from lab.contract import Clock, Event, Op, Phase, event_line
from lab.refbuilder import Policy
from lab.runners.base import RunnerView
from lab.subjects.reference import Reference
from lab.subjects.uv import Uv

VIEW = RunnerView(
    src="/src",
    cache="/cache",
    tmp="/tmp",
    home="/home/runner",
    python="/py/python3",
    resources={
        resources.WHEELHOUSE: "/r/wheelhouse",
        resources.REFBUILDER: "/r/refbuilder",
        resources.uv("0.8.12"): "/r/uv-0.8.12",
        resources.uv("0.13.9"): "/r/uv-0.13.9",
    },
    bin_path="/usr/bin:/bin",
)


@pytest.mark.parametrize(
    ("spec", "name"),
    [("uv", "uv"), (" uv@0.8.12", "uv@0.8.12"), ("narrow", "narrow"), ("none", "none")],
)
def test_names_are_checked_and_canonical(spec: str, name: str) -> None:
    assert subjects.canonical(spec) == name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("pip", "unknown subject 'pip'; choose from uv, narrow, wide, none"),
        ("uv@0.0.1", "uv '0.0.1' is not in the toolchain; choose one of ['0.8.12', '0.13.9']"),
        ("wide@2", "subject 'wide' takes no @VERSION"),
    ],
)
def test_bad_names_say_what_is_allowed(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        subjects.canonical(spec)


def test_a_scenario_names_its_subject_under_the_old_field_name_too() -> None:
    s = scenario.load_named("issue-15380", ["builder=wide"])
    assert s.subject == "wide"
    made = subjects.make(s.subject, s, template.get(s.template))
    assert made == Reference(Policy.WIDE, "uv_demo")


def test_uv_runs_the_version_asked_for_offline() -> None:
    s = scenario.load_named("issue-15380")
    uv = subjects.make("uv@0.8.12", s, template.get(s.template))
    assert uv == Uv("0.8.12", ("uv", "sync", "--reinstall"))
    assert (uv.name, uv.label) == ("uv@0.8.12", "uv 0.8.12")
    assert uv.needs.resources == {resources.WHEELHOUSE, resources.uv("0.8.12")}
    assert uv.argv(VIEW, "runner-1") == ["/r/uv-0.8.12/bin/uv", "sync", "--reinstall"]
    env = uv.env(VIEW)
    assert (env["UV_OFFLINE"], env["UV_FIND_LINKS"], env["UV_CACHE_DIR"]) == (
        "1",
        "/r/wheelhouse",
        "/cache",
    )
    assert subjects.make("uv", s, template.get(s.template)) == Uv("0.13.9", uv.command)


def test_the_reference_builder_runs_from_its_bundle_without_site_packages() -> None:
    ref = Reference(Policy.NARROW, "uv_demo")
    argv = ref.argv(VIEW, "runner-2")
    assert argv[:4] == ["/py/python3", "-I", "-S", "/r/refbuilder"]
    assert argv[4:6] == ["editable", "/src"]
    assert "--policy" in argv and argv[argv.index("--runner") + 1] == "runner-2"
    assert ref.needs.resources == {resources.REFBUILDER, resources.WHEELHOUSE}


def test_the_reference_builder_keeps_its_own_stamps() -> None:
    event = Event(3.0, 4.0, "forged", Op.BUILD, Phase.START, "k", Clock.SOURCE, data={"x": 1})
    obs = Reference(Policy.NARROW, "m").observe(event_line(event))
    assert obs is not None and (obs.op, obs.phase, obs.key, obs.at) == (
        Op.BUILD,
        Phase.START,
        "k",
        (3.0, 4.0),
    )
    assert Reference(Policy.NARROW, "m").observe("Building wheel...") is None
