"""The builder's children die with it: a pip or a backend hook that outlived a killed builder
would write on into a scratch dir that sweepers have taken, where nothing removes it again."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys

_PR_SET_PDEATHSIG = 1
_libc = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)


def die_with_parent() -> None:
    """For ``subprocess``'s ``preexec_fn``: the child gets SIGKILL when its parent dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
