"""A project versioned by its git tags (hatch-vcs)."""
