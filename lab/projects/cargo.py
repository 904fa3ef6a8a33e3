"""What a build that runs cargo needs in a runner: the vendored crates (``cachelab setup``
vendors every ``Cargo.lock`` a template or a set-up project has), cargo and rustc, and a
CARGO_HOME of the runner's own whose config takes crates only from the vendored directory,
never the network (cargo reads a source replacement from no variable)."""

from __future__ import annotations

from lab.resources import CRATES
from lab.runners.view import Needs, RunnerView

BINARIES = frozenset({"cargo", "rustc"})
NEEDS = Needs(resources=frozenset({CRATES}), binaries=BINARIES)


def runner_env(view: RunnerView) -> dict[str, str]:
    return {"CARGO_HOME": f"{view.home}/.cargo"}


def home_files(view: RunnerView) -> dict[str, str]:
    """Files in the runner's HOME, by path relative to it."""
    config = (
        '[source.crates-io]\nreplace-with = "vendored"\n\n'
        f'[source.vendored]\ndirectory = "{view.resources[CRATES]}"\n\n'
        "[net]\noffline = true\n"
    )
    return {".cargo/config.toml": config}
