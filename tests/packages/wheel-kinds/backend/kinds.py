"""A backend whose editable wheel is whatever the tree's WHEEL_KIND file says, so that one
project stands in for every way a backend's result can be broken:

- good (no file): a correct editable wheel, a .pth to the tree's src/;
- not-a-zip: a file named .whl that is no zip at all;
- bad-record: a zip whose RECORD hash of its .pth is wrong;
- pth-nowhere: a correct wheel whose .pth points at a directory that does not exist;
- not-a-string: build_editable returns 5 instead of a file name;
- own-scripts: a good wheel, built only where the env's own scripts come first on PATH (as
  maturin and cmake need their programs).
"""

import base64
import hashlib
import os
import shutil
import sys
import zipfile

ROOT = os.path.abspath(os.getcwd())
NAME, VERSION = "kinds_demo", "1.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def _kind():
    path = os.path.join(ROOT, "WHEEL_KIND")
    return open(path).read().strip() if os.path.exists(path) else "good"


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_editable(config_settings=None):
    return []


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    kind = _kind()
    if kind == "not-a-string":
        return 5
    found = shutil.which("python")
    if kind == "own-scripts" and os.path.dirname(found or "") != os.path.dirname(sys.executable):
        raise RuntimeError(f"python on PATH is {found}, not the env's {sys.executable}")
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    path = os.path.join(wheel_directory, name)
    if kind == "not-a-zip":
        with open(path, "w") as f:
            f.write("this is not a wheel\n")
        return name
    target = os.path.join(ROOT, "nowhere" if kind == "pth-nowhere" else "src")
    files = {
        f"_{NAME}.pth": (target + "\n").encode(),
        f"{DIST_INFO}/METADATA": f"Metadata-Version: 2.1\nName: kinds-demo\nVersion: {VERSION}\n".encode(),
        f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: kinds\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as whl:
        for arcname, data in sorted(files.items()):
            digest = _digest(b"something else" if kind == "bad-record" and arcname.endswith(".pth") else data)
            record.append(f"{arcname},{digest},{len(data)}")
            whl.writestr(arcname, data)
        record.append(f"{DIST_INFO}/RECORD,,")
        whl.writestr(f"{DIST_INFO}/RECORD", "\n".join(record) + "\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise NotImplementedError("editable only")


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("editable only")
