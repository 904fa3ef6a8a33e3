"""The one describer of an installed distribution, on a site-packages laid out by hand as an
installer leaves it (the real installs of uv and pip are in tests/oracle/test_oracle.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.projects import installed

METADATA = """\
Metadata-Version: 2.4
Name: Demo_Pkg
Version: 1.0
Classifier: A
Classifier: B
Requires-Dist: filelock; extra == "lock"

Read me at CHECKOUT/README.md, not /usr/src/x or CHECKOUTs.
"""


def _installed(root: Path, checkout: Path) -> tuple[list[Path], Path]:
    """A venv's site-packages and bin holding demo-pkg, as an installer writes it."""
    site, scripts = root / "lib" / "site-packages", root / "bin"
    dist_info = site / "demo_pkg-1.0.dist-info"
    dist_info.mkdir(parents=True)
    scripts.mkdir()
    files = {
        "demo_pkg-1.0.dist-info/METADATA": METADATA.replace("CHECKOUT", str(checkout)),
        "demo_pkg-1.0.dist-info/entry_points.txt": "[console_scripts]\nDemo = demo:Main\n",
        "demo_pkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\n",
        "demo_pkg-1.0.dist-info/INSTALLER": "uv\n",
        "demo_pkg-1.0.dist-info/REQUESTED": "",
        "demo_pkg-1.0.dist-info/direct_url.json": '{"url": "file:///work/checkout"}',
        "demo_pkg-1.0.dist-info/uv_cache.json": '{"timestamp": 1}',
        "demo_pkg-1.0.dist-info/uv_build.json": "{}",
        "_demo.pth": f"{checkout}/src\nimport _demo_finder; _demo_finder.install()\n",
        "_demo_finder.py": f"MAPPING = {{'demo': '{checkout}/src/demo'}}\nOTHER = '/opt/x'\n",
        "_demo_finder.cpython-311.pyc": "byte code",
        "../../bin/demo": "#!/venv/bin/python\n",
    }
    for rel, text in files.items():
        (site / rel).write_text(text)
    (site / "_native.so").write_bytes(b"\x7fELF\xff\xfe")
    rows = [*files, "_native.so", "demo_pkg-1.0.dist-info/RECORD"]
    (dist_info / "RECORD").write_text("".join(f"{r},sha256=x,1\n" for r in rows))
    return [site], scripts


def test_what_is_installed_and_what_the_installer_wrote_apart(tmp_path: Path) -> None:
    checkout = tmp_path / "work" / "checkout"
    checkout.mkdir(parents=True)
    sites, scripts = _installed(tmp_path / "venv", checkout)
    said = installed.describe(sites, scripts, "demo-pkg", str(checkout))
    assert (said["name"], said["version"], said["also"]) == ("Demo_Pkg", "1.0", [])
    assert said["metadata"]["Classifier"] == ["A", "B"]
    assert said["metadata"]["Requires-Dist"] == ['filelock; extra == "lock"']
    # the checkout's path as a whole, and only there
    assert said["description"] == (
        f"Read me at {{checkout}}/README.md, not /usr/src/x or {checkout}s.\n"
    )
    assert said["entry_points"] == {"console_scripts": {"Demo": "demo:Main"}}
    assert said["scripts"] == ["demo"]
    assert said["pth"] == {
        "_demo.pth": ["{checkout}/src", "import _demo_finder; _demo_finder.install()"]
    }
    assert said["hooks"] == {"_demo_finder": ["/opt/x", "{checkout}/src/demo"]}
    # the installer's files, byte code, and what has a field of its own are not files
    assert sorted(said["files"]) == ["_demo_finder.py", "_native.so", "{dist-info}/WHEEL"]
    assert said["files"]["_native.so"] == {
        "sha256": hashlib.sha256(b"\x7fELF\xff\xfe").hexdigest(),
        "binary": True,
    }
    finder = said["files"]["_demo_finder.py"]["text"]
    assert finder.startswith("MAPPING = {'demo': '{checkout}/src/demo'}")


def test_the_checkout_is_found_by_its_real_path_too(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    sites, scripts = _installed(tmp_path / "venv", real)
    said = installed.describe(sites, scripts, "demo-pkg", str(tmp_path / "link"))
    assert said["pth"]["_demo.pth"][0] == "{checkout}/src"


def test_a_missing_distribution_and_a_second_install(tmp_path: Path) -> None:
    sites, scripts = _installed(tmp_path / "venv", tmp_path)
    said = installed.describe(sites, scripts, "other", str(tmp_path))
    assert said == {"schema": installed.SCHEMA, "missing": f"no distribution other in {sites[0]}"}
    twin = sites[0] / "Demo_Pkg-0.9.dist-info"
    twin.mkdir()
    (twin / "METADATA").write_text("Name: demo.pkg\nVersion: 0.9\n")
    said = installed.describe(sites, scripts, "DEMO-PKG", str(tmp_path))
    assert (said["dist_info"], said["also"]) == (
        "Demo_Pkg-0.9.dist-info",
        ["demo_pkg-1.0.dist-info"],
    )


def test_a_file_url_and_every_place_the_checkout_is_seen_from(tmp_path: Path) -> None:
    """The oracle describes its copy's install with the runner's view of the checkout too:
    a readme that names the view says ``{checkout}`` in both descriptions; a ``file://``
    URL, plain or quoted, is a path as any other."""
    copy = tmp_path / "scratch" / "my project"
    sites, scripts = _installed(tmp_path / "venv", copy)
    quoted = str(copy).replace(" ", "%20")
    (sites[0] / "demo_pkg-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: demo-pkg\nVersion: 1.0\n\n"
        f"Mount it at /src (not /srcs); docs at file:///src/docs, file://localhost/src/x\n"
        f"and file://{quoted}/docs, where it was built.\n"
    )
    said = installed.describe(sites, scripts, "demo-pkg", str(copy), also=["/src"])
    assert said["description"] == (
        "Mount it at {checkout} (not /srcs); docs at file://{checkout}/docs, "
        "file://localhost{checkout}/x\nand file://{checkout}/docs, where it was built.\n"
    )
    assert said["pth"]["_demo.pth"][0] == "{checkout}/src"
