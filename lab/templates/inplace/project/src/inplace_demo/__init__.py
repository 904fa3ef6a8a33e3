"""Imports what the build generated in the tree; fails where the build did not run here."""

from inplace_demo._generated import BUILD_ID


def build_id() -> str:
    return BUILD_ID
