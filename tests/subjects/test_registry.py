"""Subjects by name, and what each one asks of a runner."""

from __future__ import annotations

import dataclasses

import pytest

from lab import resources, scenario, subjects
from lab.contract import Clock, Event, Op, Phase, event_line
from lab.errors import ScenarioError
from lab.refbuilder import Policy
from lab.runners.view import RunnerView
from lab.subjects.pip import Pip
from lab.subjects.reference import Reference
from lab.subjects.uv import Uv
from lab.vocabulary import StepKind

VIEW = RunnerView(
    runner="runner-1",
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
    [
        ("uv", "uv"),
        (" uv@0.8.12", "uv@0.8.12"),
        ("uv@0.12.24", "uv@0.12.24"),  # any release: the toolchain says at run time if it has it
        ("pip", "pip"),
        ("narrow", "narrow"),
        ("none", "none"),
    ],
)
def test_names_are_checked_and_canonical(spec: str, name: str) -> None:
    assert subjects.canonical(spec) == name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("poetry", "unknown subject 'poetry'; choose from uv, pip, narrow, coalesce, wide, none"),
        ("uv@latest", "uv 'latest' is not a release number; e.g. uv@0.12.24"),
        ("wide@2", "subject 'wide' takes no @VERSION"),
        ("pip@24.0", "subject 'pip' takes no @VERSION"),
    ],
)
def test_bad_names_say_what_is_allowed(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        subjects.canonical(spec)


def test_a_scenario_makes_its_subject_with_its_own_settings() -> None:
    s = scenario.load_named("issue-15380", ["subject=wide"])
    made = subjects.make(s.subject, s.subject_settings())
    assert made == Reference(Policy.WIDE, "uv_demo")


def test_uv_runs_the_version_asked_for_offline() -> None:
    s = scenario.load_named("issue-15380")
    uv = subjects.make("uv@0.8.12", s.subject_settings())
    assert uv == Uv("0.8.12", ("uv", "sync", "--reinstall"))
    assert (uv.name, uv.label) == ("uv@0.8.12", "uv 0.8.12")
    assert uv.needs.resources == {resources.WHEELHOUSE, resources.uv("0.8.12")}
    assert uv.argv(VIEW) == ["/r/uv-0.8.12/bin/uv", "sync", "--reinstall"]
    env = uv.env(VIEW)
    assert (env["UV_OFFLINE"], env["UV_FIND_LINKS"], env["UV_CACHE_DIR"]) == (
        "1",
        "/r/wheelhouse",
        "/cache",
    )
    assert subjects.make("uv", s.subject_settings()) == Uv("0.13.9", uv.command)


def test_on_a_project_uv_installs_the_project_itself_into_a_venv_it_makes_first() -> None:
    """uv sync would install a project's dev groups and take its lock's packages from their
    index, neither of which a runner offline has: the project itself is installed instead,
    into the checkout's venv (UV_PYTHON would name the runner's own interpreter)."""
    for command, reinstall in (
        (["uv", "sync", "--reinstall"], ["--reinstall"]),
        (["uv", "sync"], []),
    ):
        s = scenario.load_named("issue-15380", [f"command={command}"])
        s = scenario.with_changes(s, "the test", project="/work/mine")
        assert s.command == (
            "uv",
            "pip",
            "install",
            *reinstall,
            "--no-deps",
            "--no-sources",
            "-e",
            ".",
        )
        assert subjects.make("uv", s.subject_settings()) == Uv("0.13.9", s.command)
        assert s.subject_settings().module is None  # without its dependencies it may not import
    uv = Uv("0.13.9", s.command)
    shell, flag, script = uv.argv(VIEW)
    make, install = script.splitlines()
    assert (shell, flag) == ("sh", "-ec")
    assert make == "/r/uv-0.13.9/bin/uv venv --quiet /src/.venv"
    assert install == (
        "exec /r/uv-0.13.9/bin/uv pip install --python /src/.venv/bin/python --no-deps "
        "--no-sources -e ."
    )
    pip = subjects.make("pip", s.subject_settings())
    assert "--no-deps" in pip.argv(VIEW)[-1]  # pip installs the project alone too
    assert (
        "--no-deps"
        not in subjects.make("pip", scenario.load_named("issue-15380").subject_settings()).argv(
            VIEW
        )[-1]
    )
    kept = scenario.with_changes(s, "the test", command=["uv", "sync", "--no-dev"])
    assert kept.command == ("uv", "sync", "--no-dev")  # a command of the user's own stays
    with pytest.raises(ScenarioError, match="absolute path"):
        scenario.with_changes(s, "the test", project="mine")


def test_the_reference_builder_runs_from_its_bundle_without_site_packages() -> None:
    ref = Reference(Policy.NARROW, "uv_demo")
    argv = ref.argv(dataclasses.replace(VIEW, runner="runner-2"))
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


def test_pip_installs_editable_from_its_pinned_wheel_with_a_cache_of_its_own() -> None:
    s = scenario.load_named("issue-15380")
    pip = subjects.make("pip", s.subject_settings())
    assert (pip.name, pip.label) == ("pip", f"pip {resources.PIP_VERSION}")
    assert pip.needs.resources == {resources.WHEELHOUSE}
    shell, flags, script = pip.argv(VIEW)
    assert (shell, flags) == ("sh", "-ec")
    make_venv, install = script.splitlines()
    assert make_venv == "/py/python3 -m venv --without-pip /src/.venv"
    wheel = f"/r/wheelhouse/pip-{resources.PIP_VERSION}-py3-none-any.whl/pip"
    assert install.startswith(f"/src/.venv/bin/python {wheel} install --no-index")
    assert "--cache-dir /cache/pip" in install and install.endswith("-e /src")
    assert pip.cache_argv(StepKind.CLEAN, VIEW) == [
        "/py/python3",
        wheel,
        "cache",
        "purge",
        "--cache-dir",
        "/cache/pip",
    ]
    assert pip.cache_argv(StepKind.PRUNE, VIEW) is None  # pip's cache has no prune


@pytest.mark.parametrize(
    ("line", "op", "phase"),
    [
        ("  Building editable for uv-demo (pyproject.toml): started", Op.BUILD, Phase.START),
        (
            "  Building editable for uv-demo (pyproject.toml): finished with status 'done'",
            Op.BUILD,
            Phase.END,
        ),
        ("Installing collected packages: uv-demo", Op.INSTALL, Phase.START),
        ("Successfully installed uv-demo-0.1.0", Op.INSTALL, Phase.END),
    ],
)
def test_pip_output_is_read_into_phases(line: str, op: Op, phase: Phase) -> None:
    obs = Pip("26.3").observe(line)
    assert obs is not None and (obs.op, obs.phase) == (op, phase)
    assert Pip("26.3").observe("Processing /src") is None


def test_every_subject_names_its_cache_commands() -> None:
    uv = Uv("0.13.9", ("uv", "sync"))
    assert uv.cache_argv(StepKind.PRUNE, VIEW) == ["/r/uv-0.13.9/bin/uv", "cache", "prune"]
    ref = Reference(Policy.NARROW, "m")
    assert ref.cache_argv(StepKind.CLEAN, VIEW) == [
        "/py/python3",
        "-I",
        "-S",
        "/r/refbuilder",
        "clean",
        "--cache",
        "/cache",
    ]
    assert ref.cache_argv(StepKind.PRUNE, VIEW)[4] == "sweep"  # type: ignore[index]
