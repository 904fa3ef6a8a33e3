"""What people read. ``terminal``: live progress, tables and verdict lines (rich)."""
