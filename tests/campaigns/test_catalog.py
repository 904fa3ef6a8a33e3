"""The catalog: which expectation applies to which subject, and one real cell of each kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import scenario
from lab.campaigns import catalog
from lab.errors import ExitCode, UsageError
from lab.report import html
from lab.run import Lab
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import Outcome


def test_the_catalog_holds_the_family() -> None:
    names = {s.name for s in catalog.entries()}
    assert {
        "issue-15380",
        "issue-15380-control",
        "fleet-8",
        "fleet-16",
        "lock-timeout",
        "stale-native",
        "shared-tree",
        "lying-locks",
        "stale-metadata",
        "poisoned-build",
        "cache-clean",
    } <= names
    for s in catalog.entries():  # every scenario says what it is and where it comes from
        assert s.description and s.source, s.name
        assert s.expectation("narrow") is not None, s.name


def test_an_expectation_can_depend_on_the_version() -> None:
    timeout = scenario.load_named("lock-timeout")
    older = timeout.expectation("uv@0.8.12")
    newer = timeout.expectation("uv@0.13.9")
    assert older is not None and older.outcome is Outcome.INVALID and older.why
    assert newer is not None and newer.outcome is Outcome.FAILED_CLEAN
    assert timeout.expectation("wide") is None  # not said: not run


def test_unknown_names_are_a_usage_error(tmp_path: Path, lab_toolchain: Toolchain) -> None:
    lab = Lab(lab_toolchain, LocalBackend(), tmp_path)
    with pytest.raises(UsageError, match="not in the catalog: \\['nope'\\]"):
        catalog.run(lab, only=["nope"])
    silent = tmp_path / "mine.toml"  # a file of one's own must say what it expects
    silent.write_text('name = "mine"\n')
    with pytest.raises(UsageError, match="no \\[\\[expect\\]\\]"):
        catalog.run(lab, only=[str(silent)])
    assert list(tmp_path.iterdir()) == [silent]


@pytest.mark.integration
def test_a_cell_meets_its_expectation_or_says_so(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    lab = Lab(lab_toolchain, local_backend, tmp_path)
    out, cells = catalog.run(lab, subject_names=["uv", "narrow"], only=["stale-native"])
    assert [(c.subject, c.observed, c.met) for c in cells] == [
        ("uv@0.13.9", "invalid", True),  # uv #11390, as the scenario expects
        ("narrow", "valid", True),
    ]
    assert catalog.exit_code(cells) == ExitCode.OK
    saved = json.loads(out.record.read_text())
    assert [c["met"] for c in saved["cells"]] == [True, True]
    page = html.render_catalog(out).read_text()
    assert page.count(">timeline</a>") == 2 and "uv #11390" in page
    assert "2 of 2 cells as expected" in out.summary.read_text()
