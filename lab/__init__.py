"""cachelab: how build caches behave when many CI runners share them.

The top-level package stays free of orchestrator dependencies (docker, jinja2, rich): runners
get it with ``lab.contract`` and ``lab.refbuilder`` only, and the builder's own few
requirements (``lab/toolchain/bundle.py``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
