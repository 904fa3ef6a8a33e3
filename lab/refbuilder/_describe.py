"""What a venv of the running interpreter takes: run as a script by an interpreter that is
not the builder's (``python -I _describe.py DIR``, DIR holding ``packaging``), imported where
it is. Only the standard library at the top: run as a script, nothing else is importable yet."""

from __future__ import annotations

import json
import sys
import sysconfig
from typing import Any

PREFIX = "/@prefix@"  # stands for a venv's directory in the install scheme


def describe() -> dict[str, Any]:
    """This interpreter's marker values, the wheel tags it takes, its byte code's tag, and
    the install scheme of its venvs below ``PREFIX``."""
    from packaging.markers import default_environment
    from packaging.tags import sys_tags

    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    paths = sysconfig.get_paths(scheme, vars={"base": PREFIX, "platbase": PREFIX})
    return {
        "markers": dict(default_environment()),
        "tags": [str(tag) for tag in sys_tags()],
        "cache_tag": sys.implementation.cache_tag,
        "paths": {name: paths[name] for name in ("purelib", "platlib", "scripts", "data")},
    }


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    print(json.dumps(describe()))
