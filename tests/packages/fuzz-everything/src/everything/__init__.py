"""Everything."""
