"""An in-tree backend whose editable wheel's description is the environment its hook ran in:
one line per variable, its value (a TMPDIR's only that it is set: a build's own)."""

import base64
import hashlib
import os
import zipfile

NAME, VERSION = "env_backend", "1.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_editable(config_settings=None):
    return []


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    seen = {k: ("(set)" if k == "TMPDIR" else v) for k, v in os.environ.items()}
    body = "".join(f"{k}={v}\n" for k, v in sorted(seen.items()))
    metadata = f"Metadata-Version: 2.1\nName: env-backend\nVersion: {VERSION}\n\n{body}"
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    files = {
        f"{DIST_INFO}/METADATA": metadata.encode(),
        f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: env\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
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
