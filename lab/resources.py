"""The names of the resources the host hands runners (read-only directories): one spelling
for those who need them (subjects, templates) and the toolchain that provides them."""

WHEELHOUSE = "wheelhouse"  # every wheel a runner may install offline
REFBUILDER = "refbuilder"  # the reference builder, runnable as `python -I -S DIR`
PROBE = "probe"  # the facts probe, runnable the same way
CRATES = "crates"  # vendored crates for offline cargo builds
UV_PREFIX = "uv-"  # uv-<version>: a uv release, bin/uv


def uv(version: str) -> str:
    """The resource holding ``bin/uv`` of this version."""
    return f"{UV_PREFIX}{version}"
