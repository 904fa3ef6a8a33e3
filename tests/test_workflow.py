"""The GitHub Actions matrix stays in step with the templates that exist."""

from __future__ import annotations

from typing import Any

import yaml

from lab import template, toolchain
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "matrix.yml"


def _matrix() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    matrix: dict[str, Any] = workflow["jobs"]["cell"]["strategy"]["matrix"]
    return matrix


def test_it_parses_and_lists_exactly_the_templates() -> None:
    assert sorted(_matrix()["template"]) == sorted(template.available())


def test_it_uses_the_pinned_uv_versions() -> None:
    assert sorted(_matrix()["uv"]) == sorted(toolchain.UV_VERSIONS)


def test_its_commands_are_cachelab_commands() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["cell"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    setup = runs.index("make setup")
    assert runs[setup + 1 :] and all(
        "cachelab run issue-15380" in run and "--subjects" in run for run in runs[setup + 1 :]
    )
