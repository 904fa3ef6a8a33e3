"""The workflows and the commit hooks: the matrix in step with the templates that exist, the
fast checks on every pull request, the same as `make fast`."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml

from lab import resources
from lab.projects import template
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "matrix.yml"


def _matrix() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    matrix: dict[str, Any] = workflow["jobs"]["cell"]["strategy"]["matrix"]
    return matrix


def test_it_parses_and_lists_exactly_the_templates() -> None:
    assert sorted(_matrix()["template"]) == sorted(template.available())


def test_it_uses_the_pinned_uv_versions() -> None:
    assert sorted(_matrix()["uv"]) == sorted(resources.UV_VERSIONS)


def test_its_commands_are_cachelab_commands() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["cell"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    setup = runs.index("make setup")
    assert runs[setup + 1 :] and all(
        "cachelab run issue-15380" in run and "--subjects" in run for run in runs[setup + 1 :]
    )


CHECKS = REPO / ".github" / "workflows" / "checks.yml"
HOOKS = REPO / ".pre-commit-config.yaml"


def _fast_recipe() -> list[str]:
    """The commands of `make fast`, with $(BIN)/ as the venv's bin."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = lines.index("fast: $(VENV)/.installed-dev") + 1
    recipe = []
    for line in lines[start:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/", ".venv/bin/"))
    return recipe


def test_a_pull_request_runs_the_fast_checks() -> None:
    workflow = yaml.safe_load(CHECKS.read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    steps = workflow["jobs"]["fast"]["steps"]
    assert [step["run"] for step in steps if "run" in step] == ["make fast"]


def test_the_commit_hooks_run_what_make_fast_runs() -> None:
    hooks = yaml.safe_load(HOOKS.read_text())["repos"][0]["hooks"]
    assert [hook["entry"] for hook in hooks] == _fast_recipe()
    assert all(hook["language"] == "system" for hook in hooks)  # nothing downloaded
    checked = subprocess.run(
        [str(REPO / ".venv" / "bin" / "pre-commit"), "validate-config", str(HOOKS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
