import os
import time
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Where the test waits for this build: once the wheel is written (its METADATA and the
# license files hatchling found with it), the hook says so there, then stays until NOTICE
# is in the tree, as a build still at work would while someone saves a file into its tree.
HANDSHAKE = "LATE_NOTICE_HANDSHAKE"


class CustomBuildHook(BuildHookInterface):
    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        handshake = os.environ.get(HANDSHAKE)
        if not handshake:
            return
        (Path(handshake) / "wheel-written").write_text(artifact_path)
        deadline = time.monotonic() + 60
        while not (Path(self.root) / "NOTICE").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
