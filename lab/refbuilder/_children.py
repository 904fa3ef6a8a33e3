"""The builder's children die with it: a pip or a backend hook that outlived a killed builder
would write on into a scratch dir that sweepers have taken, where nothing removes it again."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1
# The C library the interpreter runs on, as loaded already: finding it by name would ask
# ldconfig (a process) at every start of the builder.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """For ``subprocess``'s ``preexec_fn``: the child gets SIGKILL when its parent dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
