"""The names of what the host hands runners (read-only directories), and the pinned versions
of the tools among them: one spelling for those who need them (subjects, templates, scenarios)
and for the toolchain that provides them (``lab.toolchain``), readable without it.
"""

WHEELHOUSE = "wheelhouse"  # every wheel a runner may install offline
REFBUILDER = "refbuilder"  # the reference builder, runnable as `python -I -S DIR`
PROBE = "probe"  # the facts probe, runnable the same way
CRATES = "crates"  # vendored crates for offline cargo builds
UV_PREFIX = "uv-"  # uv-<version>: a uv release, bin/uv

# The seed's uv and the newest one checked here (their lock log formats differ); the default.
UV_VERSIONS: tuple[str, ...] = ("0.8.12", "0.13.9")
DEFAULT_UV_VERSION = "0.13.9"
# pip as a subject
PIP_VERSION = "26.3"
# Build plugins the lab keeps offline besides the templates' backends: what real projects
# name in [build-system] requires (a version from git, a README assembled from fragments),
# so that projects and tests using them build without the registries.
BUILD_PLUGINS: tuple[str, ...] = ("hatch-vcs", "hatch-fancy-pypi-readme", "setuptools-scm")


def uv(version: str) -> str:
    """The resource holding ``bin/uv`` of this version."""
    return f"{UV_PREFIX}{version}"
