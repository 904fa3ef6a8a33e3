"""A lookup: the entry of this tree's revision, or one whose build added files to this very
tree, and nothing else."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.contract import Op, Phase
from lab.refbuilder import Freshness, Policy, Request, _project
from lab.refbuilder._cache import Cache, read_entry, write_manifest
from lab.refbuilder._frontend import editable_install
from lab.refbuilder._lookup import lookup
from lab.refbuilder._plan import Plan, make_plan
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents, write_entry


def _tree(path: Path) -> Path:
    (path / "src" / "x").mkdir(parents=True)
    (path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '1'\n")
    (path / "README.md").write_text("# x\n")
    (path / "src" / "x" / "__init__.py").write_text("")
    return path


def _plan(src: Path, cache: Path) -> Plan:
    project = _project.read(src)
    return make_plan(project, Cache(cache, RecordedEvents()), BASE_PYTHON, Freshness.CONTENT)


def _build(src: Path, cache: Path, build: Callable[[Path], object]) -> Plan:
    """Publish an entry for ``src`` as a build that did ``build`` to its tree would."""
    before = _plan(src, cache)
    build(src)
    after = before.rescanned()
    entry = write_entry(before.entry_dir, b"")
    manifest = {
        **(read_entry(entry) or pytest.fail("a sound entry")).manifest,
        "revision": before.revision,
        "side_effects": after.tree.side_effects(before.tree),
        "added": after.tree.added_since(before.tree),
    }
    write_manifest(entry, manifest)
    return before


def _adds_a_module(src: Path) -> None:
    (src / "src" / "x" / "_native.so").write_bytes(b"\x7fELF one")


def test_a_re_run_in_the_tree_a_build_added_to_is_a_hit(tmp_path: Path) -> None:
    src, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    assert lookup(_plan(src, cache)) == (None, "absent")
    built = _build(src, cache, _adds_a_module)
    now = _plan(src, cache)
    assert now.revision != built.revision  # the tree has the module now
    entry, reason = lookup(now)
    assert entry is not None and entry.path == built.entry_dir
    assert reason == f"valid: this tree is {built.revision}'s and the files its build added"


def test_a_fresh_checkout_lacks_what_the_build_added(tmp_path: Path) -> None:
    src, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    _build(src, cache, _adds_a_module)
    shutil.rmtree(src)
    _tree(src)
    assert lookup(_plan(src, cache)) == (
        None,
        "this tree lacks the build's side effects: src/x/_native.so",
    )


@pytest.mark.parametrize(
    "after",
    [
        lambda src: (src / "src" / "x" / "_native.so").write_bytes(b"\x7fELF two"),
        lambda src: (src / "README.md").write_text("# x, edited after the build\n"),
        lambda src: (src / "NEW").write_text("a file the build did not add"),
        lambda src: (src / "src" / "x" / "_native.so").chmod(0o755),
    ],
    ids=["what-it-added-changed", "an-edit", "another-new-file", "a-mode"],
)
def test_a_tree_that_is_not_the_builds_plus_what_it_added_misses(
    tmp_path: Path, after: Callable[[Path], object]
) -> None:
    src, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    _build(src, cache, _adds_a_module)
    after(src)
    assert lookup(_plan(src, cache)) == (None, "absent")


def test_a_file_the_build_changed_keeps_the_tree_a_miss(tmp_path: Path) -> None:
    """Only what the build added is left out: a file it rewrote makes another tree."""
    src, cache = _tree(tmp_path / "src"), tmp_path / "cache"

    def adds_and_changes(tree: Path) -> None:
        _adds_a_module(tree)
        (tree / "README.md").write_text("# x, as the build left it\n")

    _build(src, cache, adds_and_changes)
    assert lookup(_plan(src, cache)) == (None, "absent")


def test_an_entry_whose_wheel_does_not_verify_is_no_hit(tmp_path: Path) -> None:
    src, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    built = _build(src, cache, _adds_a_module)
    (built.entry_dir / "demo-1.0-py3-none-any.whl").write_bytes(b"torn")
    assert lookup(_plan(src, cache)) == (None, "absent")


@pytest.mark.integration
@pytest.mark.parametrize("policy", [Policy.NARROW, Policy.COALESCE, Policy.WIDE])
def test_the_same_tree_installed_again_reuses_its_build(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path, policy: Policy
) -> None:
    """A backend that writes into the tree (an in-place extension, an .egg-info): the
    second install of the same tree is a hit, although the build changed the tree."""
    src = render("src", "inplace")

    def install(venv: str) -> tuple[RecordedEvents, bool]:
        events = RecordedEvents()
        request = Request(
            src,
            tmp_path / "cache",
            tmp_path / venv,
            wheelhouse,
            BASE_PYTHON,
            policy,
            "inplace_demo",
        )
        return events, editable_install(request, events).hit

    _, hit = install("v1")
    assert not hit
    events, hit = install("v2")
    assert hit and events.phases(Op.BUILD) == []
    (hit_event,) = [e for e in events.records if e.op is Op.LOOKUP and e.phase is Phase.HIT]
    assert "the files its build added" in str(hit_event.data["reason"])
