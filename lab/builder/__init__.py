"""The reference narrow-lock builder: a PEP 660 editable-install frontend with a shared cache.

It builds outside any cache lock and takes the cache entry's lock only to publish the
finished, immutable result with one atomic rename. A separate lock inside the source tree serializes
builds of one physical tree, the only thing that is really shared while a backend runs.

This package runs inside runner images: it imports only filelock, pyproject-hooks, installer,
packaging and the standard library.
"""

from lab.builder._errors import BuildError, CacheError
from lab.builder._frontend import Policy, Request, editable_install

__all__ = ["BuildError", "CacheError", "Policy", "Request", "editable_install"]
