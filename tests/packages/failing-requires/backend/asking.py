"""A backend that fails when asked what an editable build needs, after some output."""

import sys


def get_requires_for_build_editable(config_settings=None):
    for n in range(20):
        print(f"looking for what an editable build needs: step {n}", file=sys.stderr)
    raise RuntimeError("no idea what an editable build needs")


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("never asked")
