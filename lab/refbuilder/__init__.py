"""The reference narrow-lock builder: a PEP 660 editable-install frontend with a shared cache.

It builds outside any cache lock and takes the cache entry's lock only to publish the
finished, immutable result with one atomic rename. A separate lock inside the source tree
serializes builds of one physical tree, the only thing that is really shared while a backend
runs.

This package runs inside runners: it imports only filelock, pyproject-hooks, installer,
packaging, the standard library and ``lab.contract``.
"""

from lab.refbuilder._cli import editable_argv
from lab.refbuilder._errors import BuildError, CacheError, InstallError
from lab.refbuilder._failpoints import parse as parse_failpoints
from lab.refbuilder._frontend import (
    DEFAULT_LOCK_TIMEOUT_S,
    Installed,
    Request,
    editable_install,
)
from lab.refbuilder._plan import DEFAULT_POLICY, Freshness, Policy
from lab.refbuilder._wheel import problem as wheel_problem
from lab.refbuilder._wheel import record_hash_matches, record_rows

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "DEFAULT_POLICY",
    "BuildError",
    "CacheError",
    "Freshness",
    "InstallError",
    "Installed",
    "Policy",
    "Request",
    "editable_argv",
    "editable_install",
    "parse_failpoints",
    "record_hash_matches",
    "record_rows",
    "wheel_problem",
]
