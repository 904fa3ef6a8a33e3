from __future__ import annotations

from pathlib import Path

import pytest

from lab import scenario
from lab.errors import ScenarioError
from lab.projects import template
from lab.vocabulary import Topology
from tests.conftest import REPO


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_the_issue_scenario_mirrors_the_seed() -> None:
    s = scenario.load(REPO / "scenarios" / "issue-15380.toml")
    assert (s.runners, s.template, s.build_delay) == (2, "hatchling", 10.0)
    assert s.topology is Topology.SAME_PATH
    assert s.command == ("uv", "sync", "--reinstall")
    assert s.network == "none"


def test_every_shipped_scenario_validates() -> None:
    paths = sorted((REPO / "scenarios").glob("*.toml"))
    assert paths
    for path in paths:
        assert scenario.load(path).name == path.stem


def test_overrides_are_typed_and_validated(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "x"\n')
    s = scenario.load(path, ["runners=4", "build_delay=2", "topology=different-paths"])
    assert (s.runners, s.build_delay, s.topology) == (4, 2.0, Topology.DIFFERENT_PATHS)


@pytest.mark.parametrize(
    ("text", "overrides", "field", "fragment"),
    [
        ('name = "x"\nrunners = 0\n', [], "runners", "greater than or equal to 1"),
        ('name = "x"\nrunners = "two"\n', [], "runners", "valid integer"),
        (
            'name = "x"\ntopology = "diagonal"\n',
            [],
            "topology",
            "'same-path', 'different-paths' or 'shared-tree'",
        ),
        (
            'name = "x"\ntemplate = "nope"\n',
            [],
            "template",
            "unknown template 'nope'; choose one of ['flit-core'",
        ),
        ('name = "x"\nuv_version = "latest"\n', [], "uv_version", "not a release number"),
        ('name = "x"\ncolour = 1\n', [], "colour", "unknown field; the fields are"),
        ('description = "no name"\n', [], "name", "is required"),
        ('name = "x"\nnetwork = "host"\n', [], "network", "'none'"),
        ('name = "x"\ncommand = ["pip", "install"]\n', [], "command", "`uv ...` command"),
        ('name = "x"\n', ["runners=-1"], "runners", "greater than or equal to 1"),
        ('name = "x"\n', ["checkout_path=src"], "checkout_path", "an absolute path"),
        ('name = "x"\n', ["checkout_path=/a/../etc"], "checkout_path", "an absolute path"),
        ('name = "x"\n', ["checkout_path=/"], "checkout_path", "an absolute path"),
        ('name = "x"\n', ["checkout_path=/usr/src"], "checkout_path", "must not be under /usr"),
        ('name = "x"\n', ["checkout_path=/cache"], "checkout_path", "must not be under /cache"),
        ('name = "x"\n', ["speed=3"], "speed", "unknown field"),
        ('name = "x"\nsubject = "poetry"\n', [], "subject", "unknown subject 'poetry'"),
        ('name = "x"\n[[steps]]\nkind = "delete"\n', [], "steps[1]", "needs path"),
        (
            'name = "x"\n[[steps]]\nkind = "delete"\npath = "./**"\n',
            [],
            "steps[1]",
            "matches the checkout itself",
        ),
        (
            'name = "x"\n[[expect]]\nsubject = "uv"\noutcome = "valid"\nserialized = "yes"\n',
            [],
            "expect[1].serialized",
            "valid boolean",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "delete"\npath = "../up/*"\n',
            [],
            "steps[1]",
            "must be a glob inside the checkout",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "delete"\npath = "/etc/*"\n',
            [],
            "steps[1]",
            "must be a glob inside the checkout",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "run"\nset = {version = "2"}\n',
            [],
            "steps[1]",
            "set is for edit",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "run"\nduring = 1\n',
            [],
            "steps[1]",
            "during is for prune",
        ),
        ('name = "x"\n[[steps]]\nkind = "clean"\n', [], None, "at least one run step"),
        (
            'name = "x"\n[[steps]]\nkind = "run"\n[[steps]]\nkind = "clean"\nduring = 1\n',
            [],
            None,
            "steps[2]: during needs a run step after it",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "clean"\nrunners = ["runner-1"]\n',
            [],
            "steps[1]",
            "runs on a runner of its own",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "edit"\nset = {dependencies = "requests"}\n'
            '[[steps]]\nkind = "run"\n',
            [],
            None,
            "steps[1].set.dependencies must be a list of requirements",
        ),
        (
            'name = "x"\ntemplate = "inplace"\n[[steps]]\nkind = "edit"\n'
            'set = {broken_wheel = "false"}\n[[steps]]\nkind = "run"\n',
            [],
            None,
            "steps[1].set.broken_wheel must be a bool",
        ),
        (
            'name = "x"\n[[expect]]\nsubject = "pip"\nversions = ">=24"\noutcome = "valid"\n',
            [],
            "expect[1]",
            "subject 'pip' has no versions",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "edit"\nset = {colour = "red"}\n'
            '[[steps]]\nkind = "run"\n',
            [],
            None,
            "steps[1].set ['colour']: an edit sets",
        ),
        (
            'name = "x"\n[[steps]]\nkind = "run"\nrunners = ["runner-9"]\n',
            [],
            None,
            "no runner ['runner-9']",
        ),
        (
            'name = "x"\n[[expect]]\nsubject = "poetry"\noutcome = "valid"\n',
            [],
            "expect[1].subject",
            "unknown subject",
        ),
        (
            'name = "x"\n[[expect]]\nsubject = "uv"\nversions = "new"\noutcome = "valid"\n',
            [],
            "expect[1].versions",
            "not a version specifier",
        ),
        (
            'name = "x"\n[[expect]]\nsubject = "uv"\noutcome = "invalid"\n',
            [],
            "expect[1]",
            "needs its why",
        ),
        ('name = "x"\n', ['checkout_versions=["1.0", "two"]'], "checkout_versions", "PEP 440"),
        (
            'name = "x"\n',
            ['checkout_dependencies=[["packaging >="]]'],
            "checkout_dependencies",
            "is not a requirement",
        ),
    ],
)
def test_errors_name_the_source_the_field_and_what_is_allowed(
    tmp_path: Path, text: str, overrides: list[str], field: str | None, fragment: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        scenario.load(path, overrides)
    err = info.value
    assert err.field == field
    assert fragment in err.message
    expected_source = f"--set {overrides[0]}" if overrides else str(path)
    assert err.source == expected_source
    where = f"field '{field}': " if field else ""  # checks across fields name them
    assert str(err).startswith(f"{expected_source}: {where}")


def test_not_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "name = \n")
    with pytest.raises(ScenarioError, match=r"s\.toml: not valid TOML"):
        scenario.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        scenario.load(tmp_path / "absent.toml")


def test_override_without_equals_sign() -> None:
    with pytest.raises(ScenarioError, match="expected KEY=VALUE"):
        scenario.parse_override("runners")


def test_override_value_that_is_not_toml_is_a_string() -> None:
    assert scenario.parse_override("topology=same-path") == ("topology", "same-path")
    assert scenario.parse_override("build_delay=2.5") == ("build_delay", 2.5)


def test_names_resolve_in_the_scenarios_directory(tmp_path: Path) -> None:
    assert scenario.resolve_path("issue-15380", tmp_path) == tmp_path / "issue-15380.toml"
    assert scenario.resolve_path("a/b.toml", tmp_path) == Path("a/b.toml")


def test_checkout_paths_like_github_container_jobs(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "x"\n')
    assert scenario.load(path, ["checkout_path=/__w/repo/repo"]).checkout_path == "/__w/repo/repo"


def test_template_parameters_are_the_templates_own(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "x"\ntemplate_parameters = { colour = "red" }\n')
    with pytest.raises(ScenarioError) as info:
        scenario.load(path)
    assert str(info.value) == (
        f"{path}: template_parameters ['colour']: template 'hatchling' takes "
        "['project_name', 'version_from_file'] (build_delay, checkout_versions and "
        "checkout_dependencies are fields of their own)"
    )


def test_each_checkout_takes_its_identity_in_turn(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "x"\ncheckout_versions = ["1.0", "2.0"]\n'
        'checkout_dependencies = [[], ["packaging>=20"]]\n',
    )
    s = scenario.load(path, ["runners=3"])
    params = [s.template_params(i) for i in range(3)]
    assert [p["version"] for p in params] == ["1.0", "2.0", "1.0"]
    assert [p["dependencies"] for p in params] == [[], ["packaging>=20"], []]
    # the marker follows from the rest: the first and third checkouts are alike
    markers = [template.get(s.template).marked(p)["marker"] for p in params]
    assert markers[0] == markers[2] != markers[1]
