"""The fuzzer's start is a repository of its own, whatever kind of git checkout the project
is: its commits and tags never land in the user's repository."""

from __future__ import annotations

from pathlib import Path

from lab import scenario
from lab.campaigns import fuzz
from lab.campaigns.fuzz import edits
from tests.projects.test_gitcopy import _git, _own, _refs, _repo


def test_the_start_of_a_worktree_is_a_repository_of_its_own(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    before = _refs(repo)
    base = scenario.load(scenario.resolve_path(fuzz.SCENARIO, None), list(fuzz.OVERRIDES))
    base = scenario.with_changes(base, "test", project=str(worktree))
    tree = tmp_path / "start"
    fuzz._start(fuzz.Settings(base, ("narrow",), 1, 1, str(worktree), "cachelab fuzz"), tree)
    _own(tree)
    _git(tree, *edits.GIT[1:], "commit", "-q", "--allow-empty", "-m", "an edit")
    _git(tree, "tag", "v9")
    assert _refs(repo) == before
