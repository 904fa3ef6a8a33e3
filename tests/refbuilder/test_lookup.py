"""A lookup: the entry of this tree's revision, or one whose build added files to this very
tree, and nothing else."""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.contract import Op, Phase
from lab.refbuilder import Freshness, Policy, Request, _project, editable_argv
from lab.refbuilder._cache import Cache, read_entry, write_manifest
from lab.refbuilder._frontend import editable_install
from lab.refbuilder._lookup import lookup
from lab.refbuilder._plan import Plan, make_plan
from tests.conftest import FIXTURES
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents, write_entry

PACKAGES = FIXTURES.parent / "packages"


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
    started = time.time_ns()
    build(src)
    ended = time.time_ns()
    after = before.rescanned()
    entry = write_entry(before.entry_dir, b"")
    manifest = {
        **(read_entry(entry) or pytest.fail("a sound entry")).manifest,
        "revision": before.revision,
        "side_effects": after.tree.side_effects(before.tree),
        "added": after.tree.added_by_build(before.tree, started, ended),
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


def test_a_manifest_that_credits_a_build_with_what_git_tracks_is_no_hit(tmp_path: Path) -> None:
    """Manifests are untrusted (an older builder's credited everything that appeared): what
    git tracks is no build's, whatever a manifest says."""
    src, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    (src / "NOTICE").write_text("notice\n")
    _git(src, "init", "-q", "-b", "main")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "one")
    (src / "NOTICE").unlink()
    before = _plan(src, cache)
    _git(src, "checkout", "--", "NOTICE")  # while it built
    after = before.rescanned()
    entry = write_entry(before.entry_dir, b"")
    manifest = (read_entry(entry) or pytest.fail("a sound entry")).manifest
    added = {rel: after.tree.items[rel] for rel in set(after.tree.items) - set(before.tree.items)}
    write_manifest(entry, {**manifest, "revision": before.revision, "added": added})
    assert added == {"NOTICE": after.tree.items["NOTICE"]}
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


_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "cachelab",
    "GIT_AUTHOR_EMAIL": "cachelab@example.invalid",
    "GIT_COMMITTER_NAME": "cachelab",
    "GIT_COMMITTER_EMAIL": "cachelab@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(tree: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=tree, env=_GIT_ENV, check=True, capture_output=True)


def _license_files(venv: Path) -> list[str]:
    site = next(venv.glob("lib/python*/site-packages"))
    (dist,) = importlib.metadata.distributions(path=[str(site)])
    metadata = email.parser.Parser().parsestr(dist.read_text("METADATA") or "")
    return metadata.get_all("License-File") or []


def _install(
    src: Path,
    tmp_path: Path,
    wheelhouse: Path,
    venv: str,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, object]:
    """Install ``src`` with the builder; ``meanwhile``: what to do once its wheel is written
    and before its build ends (the fixture's build hook then waits for NOTICE)."""
    handshake = tmp_path / f"handshake-{venv}"
    handshake.mkdir()
    request = Request(
        src, tmp_path / "cache", tmp_path / venv, wheelhouse, BASE_PYTHON, Policy.NARROW, None
    )
    command = [sys.executable, "-m", "lab.refbuilder", *editable_argv(request, "r")]
    env = {**os.environ, **({"LATE_NOTICE_HANDSHAKE": str(handshake)} if meanwhile else {})}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 120
        while meanwhile is not None and not (handshake / "wheel-written").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the build never got there"
            time.sleep(0.05)
        if meanwhile is not None:
            meanwhile()
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    outcome: dict[str, object] = json.loads(out)
    return outcome


def _restored_by_git(tmp_path: Path) -> tuple[Path, Callable[[], object]]:
    """NOTICE committed, deleted, and restored by git while the build runs."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "late-notice", src)
    _git(src, "init", "-q", "-b", "main")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "one")
    (src / "NOTICE").unlink()
    return src, lambda: _git(src, "checkout", "--", "NOTICE")


def _moved_in(tmp_path: Path) -> tuple[Path, Callable[[], object]]:
    """NOTICE written elsewhere long ago, and moved into the tree while the build runs."""
    src = tmp_path / "src"
    shutil.copytree(PACKAGES / "late-notice", src)
    saved = tmp_path / "NOTICE"
    (src / "NOTICE").rename(saved)
    os.utime(saved, (time.time() - 3600, time.time() - 3600))
    return src, lambda: saved.rename(src / "NOTICE")


@pytest.mark.integration
@pytest.mark.parametrize("arrival", [_restored_by_git, _moved_in], ids=["git", "moved-in"])
def test_a_file_put_in_the_tree_while_it_builds_is_not_the_builds(
    tmp_path: Path, wheelhouse: Path, arrival: Callable[[Path], tuple[Path, Callable[[], object]]]
) -> None:
    """A NOTICE that hatchling names a license file arrives in the tree after the wheel is
    written and before the build ends: it is no file the build added, so the tree with it
    is another tree, whose install names it, as a cold build does."""
    src, arrive = arrival(tmp_path)
    first = _install(src, tmp_path, wheelhouse, "v1", arrive)
    assert not first["hit"] and _license_files(tmp_path / "v1") == []  # built without it
    again = _install(src, tmp_path, wheelhouse, "v2")
    assert not again["hit"]
    assert _license_files(tmp_path / "v2") == ["NOTICE"]
