"""Whether the cache holds what this tree would build.

An entry serves a tree in two ways, and in no other:

- its revision is the tree's (the same content: another checkout of the same commit, as CI
  has), and the tree has every file its build left in its own tree (the files the entry
  needs there: uv #11390);
- its build ran in this very tree and added files to it (an ``.egg-info``, an extension
  built in place): the tree without exactly those files has the entry's revision, and each
  of them is still as the build left it, and untracked by git. So a re-run in the same tree
  is a hit. A file the build *changed* (it was there before) is no such case: the tree is no
  longer the one the entry was built from, and that is a miss. Nor is a file that arrived
  while the build ran and cannot be its own (``_tree.Tree.added_by_build``): it is not among
  the files the build added, so the tree with it is another tree.

Readers take no lock: every manifest is read as untrusted, and an entry is a hit only once
its wheel has been verified (``_cache.read_entry``).
"""

from __future__ import annotations

import json
from pathlib import Path

from lab.contract import ENTRY_MANIFEST
from lab.refbuilder._cache import Entry, read_entry
from lab.refbuilder._plan import Plan


def lookup(plan: Plan) -> tuple[Entry | None, str]:
    """The entry that serves ``plan``'s tree, or None; and why."""
    if plan.entry_dir.exists():
        entry = read_entry(plan.entry_dir)
        if entry is None:
            return None, "invalid manifest or wheel"
        missing = plan.tree.missing(entry.side_effects)
        if missing:
            return None, f"this tree lacks the build's side effects: {', '.join(missing)}"
        return entry, "valid"
    grown = _built_here(plan)
    if grown is not None:
        revision = grown.path.name
        return grown, f"valid: this tree is {revision}'s and the files its build added"
    return None, "absent"


def _added(manifest: Path) -> dict[str, str]:
    """What the build of this entry added to its tree, as the manifest says ({}: unreadable,
    or nothing)."""
    try:
        added = json.loads(manifest.read_text()).get("added", {})
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(added, dict) or not all(isinstance(v, str) for v in added.values()):
        return {}
    return added


def _built_here(plan: Plan) -> Entry | None:
    """An entry whose build added files to this tree: the tree without exactly those has
    its revision, and each is as the build left it, untracked."""
    tree = plan.tree
    for manifest in sorted(plan.entry_dir.parent.glob(f"*/{ENTRY_MANIFEST}")):
        added = _added(manifest)
        if not added or any(tree.items.get(rel) != record for rel, record in added.items()):
            continue
        if any(tree.tracks(rel) is not False for rel in added):  # what git tracks is no build's
            continue
        if plan.revision_without(added) != manifest.parent.name:
            continue
        entry = read_entry(manifest.parent)
        if entry is not None and not tree.missing(entry.side_effects):
            return entry
    return None
