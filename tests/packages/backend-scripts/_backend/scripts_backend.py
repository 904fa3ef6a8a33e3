"""An in-tree backend whose editable wheel's console scripts are what SCRIPTS says: an input
of the wheel that only the backend's own code shows."""

import base64
import hashlib
import os
import zipfile

NAME, VERSION = "backend_scripts", "1.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"
SCRIPTS: dict[str, str] = {}


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_editable(config_settings=None):
    return []


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    scripts = "".join(f"{script} = {target}\n" for script, target in sorted(SCRIPTS.items()))
    files = {
        f"_{NAME}.pth": (os.path.join(os.getcwd(), "src") + "\n").encode(),
        f"{DIST_INFO}/METADATA": f"Metadata-Version: 2.1\nName: backend-scripts\nVersion: {VERSION}\n".encode(),
        f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: scripts\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{DIST_INFO}/entry_points.txt": f"[console_scripts]\n{scripts}".encode(),
    }
    record = [f"{arcname},{_digest(data)},{len(data)}" for arcname, data in sorted(files.items())]
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as whl:
        for arcname, data in sorted(files.items()):
            whl.writestr(arcname, data)
        whl.writestr(f"{DIST_INFO}/RECORD", "\n".join([*record, f"{DIST_INFO}/RECORD,,"]) + "\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise NotImplementedError("editable only")


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("editable only")
