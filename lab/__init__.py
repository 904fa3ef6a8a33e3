"""cachelab: how build caches behave when many CI runners share them.

The top-level package stays free of orchestrator dependencies (docker, jinja2, rich) because
``lab.builder`` is installed into runner images with only its own few requirements.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
