from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# What the hook adds to the wheel's dependencies: the one input of its metadata that
# pyproject.toml does not show.
EXTRA_DEPENDENCIES: list[str] = []


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        build_data["dependencies"].extend(EXTRA_DEPENDENCIES)
