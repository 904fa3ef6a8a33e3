"""What an installed distribution is, read from its files: ONE describer for the probe inside
every runner (``lab.probe``, with the runner's interpreter) and for the cold-build oracle
(``lab.oracle``), so that what a runner installed and what its checkout gives are described
by the same code. Standard library only: the probe's bundle carries it.

    described = describe(site_dirs, scripts_dir, "uv-demo", checkout="/src")

The description (JSON) holds every ``METADATA`` header (each a list: headers repeat) and its
description body; the entry points by group; every installed file under site-packages as
``{path relative to site-packages: {"sha256", "text" where small UTF-8}}`` (the
``.dist-info``'s own as ``{dist-info}/NAME``: its name is the Name and Version); the names of the
scripts (their content is the installer's launcher, not the build's); and where each ``.pth``
line and each import hook it runs points. ``METADATA``, ``entry_points.txt`` and the ``.pth``
files are said in their own fields, not again among the files.

What the installer writes, not the build, is left out: ``RECORD``, ``INSTALLER``,
``REQUESTED``, ``direct_url.json`` (PEP 376/610), and uv's own ``uv_cache.json`` (its
freshness record: times) and ``uv_build.json`` (its build info); byte code (``*.pyc``) is the
interpreter's. pip and the reference builder write nothing else into an editable install.

Every text has the checkout's path written as ``{checkout}``, wherever it stands as a whole
(in a path, a ``file://`` URL, plain prose): as the one who installed it sees it, and where
the same checkout is seen from too (``also``). So an install described in a runner at
``/src`` and the oracle's, built in a copy elsewhere and told the runner sees it at ``/src``,
compare, whatever a readme says of ``/src``.
"""

from __future__ import annotations

import configparser
import csv
import email.parser
import hashlib
import os
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = 1
CHECKOUT = "{checkout}"
DIST_INFO = "{dist-info}"  # the .dist-info's own files, whatever its name (Name, Version say it)
TEXT_LIMIT = 8192  # bytes: a text up to this size is kept whole, a larger one by its digest
INSTALLER_FILES = frozenset(
    {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json", "uv_build.json"}
)
_OWN_FIELDS = frozenset({"METADATA", "entry_points.txt"})  # said as metadata, entry points
_IMPORTED = re.compile(r"^\s*import\s+([\w.]+)")
_PATH_LITERAL = re.compile(r"""['"]((?:\{checkout\}|/)[^'"\n]*)['"]""")


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


class _Paths:
    """Writes a checkout's paths as ``{checkout}``: each as given and as resolved, and as a URL
    quotes it, only where it stands as a whole (``/src`` in ``/src/pkg`` and in
    ``file:///src/pkg``, never in ``/usr/src`` or ``/srcs``)."""

    def __init__(self, *checkouts: str) -> None:
        given = {r for c in checkouts for r in (c.rstrip("/"), os.path.realpath(c))} - {"", "/"}
        roots = given | {urllib.parse.quote(r) for r in given}
        spelled = "|".join(re.escape(r) for r in sorted(roots, key=len, reverse=True))
        whole = rf"(?:(?<=file://)|(?<=file://localhost)|(?<![\w.\-/%]))(?:{spelled})(?![\w.\-%])"
        self._pattern = re.compile(whole) if roots else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(CHECKOUT, text) if self._pattern else text


def _read_metadata(path: Path) -> Any:
    return email.parser.Parser().parsestr(path.read_text(encoding="utf-8", errors="replace"))


def _dist_infos(site_dirs: list[Path], name: str) -> list[Path]:
    """Every ``.dist-info`` in ``site_dirs`` whose METADATA names ``name``."""
    found = []
    for site in dict.fromkeys(site_dirs):
        for dist_info in sorted(site.glob("*.dist-info")) if site.is_dir() else []:
            metadata = dist_info / "METADATA"
            if metadata.is_file() and normalized(_read_metadata(metadata)["Name"] or "") == name:
                found.append(dist_info)
    return found


def _metadata(path: Path, paths: _Paths) -> tuple[dict[str, list[str]], str]:
    message = _read_metadata(path)
    headers: dict[str, list[str]] = {}
    for header, value in message.items():
        headers.setdefault(header, []).append(paths(str(value)))
    body = message.get_payload()
    return headers, paths(body if isinstance(body, str) else "")


def _entry_points(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names keep their case
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except configparser.Error as exc:
        return {"(unreadable)": {"error": str(exc).splitlines()[0]}}
    return {group: dict(parser[group]) for group in parser.sections()}


def _recorded(dist_info: Path) -> list[str]:
    """What the installer says it wrote (RECORD), and whatever else is in the .dist-info,
    relative to the site-packages directory that holds it."""
    site = dist_info.parent
    rows: list[str] = []
    record = dist_info / "RECORD"
    if record.is_file():
        with record.open(newline="", encoding="utf-8", errors="replace") as f:
            rows = [row[0] for row in csv.reader(f) if row and row[0]]
    walked = [p.relative_to(site).as_posix() for p in sorted(dist_info.rglob("*")) if p.is_file()]
    return list(dict.fromkeys(os.path.normpath(r).replace(os.sep, "/") for r in rows + walked))


def _file(path: Path, paths: _Paths) -> dict[str, Any]:
    data = path.read_bytes()
    try:
        text = paths(data.decode("utf-8"))
    except UnicodeDecodeError:
        return {"sha256": hashlib.sha256(data).hexdigest(), "binary": True}
    said: dict[str, Any] = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
    if len(data) <= TEXT_LIMIT:
        said["text"] = text
    return said


def _pth(path: Path, paths: _Paths) -> list[str]:
    """Each line that does something: a path added to sys.path, or code run at start-up."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [paths(line.rstrip()) for line in lines if line.strip() and not line.startswith("#")]


def _hooks(site: Path, pth_lines: list[str], paths: _Paths) -> dict[str, list[str]]:
    """Where each module a .pth line imports points: the absolute paths its source names
    (editables' and setuptools' finders map module names to paths in the checkout)."""
    hooks: dict[str, list[str]] = {}
    for line in pth_lines:
        for statement in line.split(";"):
            match = _IMPORTED.match(statement)
            if match is None:
                continue
            module = match.group(1).split(".")[0]
            source = site / f"{module}.py"
            text = paths(source.read_text(errors="replace")) if source.is_file() else ""
            hooks[module] = sorted(set(_PATH_LITERAL.findall(text)))
    return hooks


def _inside(path: str, directory: Path) -> bool:
    return path == str(directory) or path.startswith(str(directory).rstrip("/") + "/")


def _files(
    dist_info: Path, scripts_dir: Path, paths: _Paths
) -> tuple[dict[str, Any], list[str], dict[str, list[str]]]:
    """The installed files (but the installer's), the scripts' names, the .pth files."""
    site = dist_info.parent
    files: dict[str, Any] = {}
    scripts: list[str] = []
    pth: dict[str, list[str]] = {}
    for rel in _recorded(dist_info):
        where = Path(os.path.normpath(site / rel))
        if _inside(str(where), scripts_dir):
            scripts.append(os.path.relpath(where, scripts_dir))
            continue
        own = rel.startswith(f"{dist_info.name}/")
        name = rel.rsplit("/", 1)[-1]
        if (own and name in INSTALLER_FILES | _OWN_FIELDS) or rel.endswith(".pyc"):
            continue
        key = f"{DIST_INFO}/{rel.split('/', 1)[1]}" if own else rel
        if not where.is_file():
            files[key] = {"missing": True}  # RECORD names it, the disk has none
        elif "/" not in rel and rel.endswith(".pth"):
            pth[rel] = _pth(where, paths)
        else:
            files[key] = _file(where, paths)
    return files, sorted(scripts), pth


def describe(
    site_dirs: list[Path], scripts_dir: Path, name: str, checkout: str, also: Sequence[str] = ()
) -> dict[str, Any]:
    """The installed distribution ``name`` in ``site_dirs`` (its scripts in ``scripts_dir``),
    with ``checkout``, and ``also`` (where others see the same checkout), written as
    ``{checkout}``; ``missing`` says where none is."""
    wanted = normalized(name)
    found = _dist_infos(site_dirs, wanted)
    if not found:
        where = ", ".join(str(s) for s in site_dirs)
        return {"schema": SCHEMA, "missing": f"no distribution {wanted} in {where}"}
    dist_info, paths = found[0], _Paths(checkout, *also)
    headers, body = _metadata(dist_info / "METADATA", paths)
    entry_points = dist_info / "entry_points.txt"
    files, scripts, pth = _files(dist_info, scripts_dir, paths)
    hooks = _hooks(dist_info.parent, [line for lines in pth.values() for line in lines], paths)
    return {
        "schema": SCHEMA,
        "name": (headers.get("Name") or [""])[0],
        "version": (headers.get("Version") or [""])[0],
        "dist_info": dist_info.name,
        "also": [other.name for other in found[1:]],  # a second install of the same name
        "metadata": headers,
        "description": body,
        "entry_points": _entry_points(entry_points) if entry_points.is_file() else {},
        "files": files,
        "scripts": scripts,
        "pth": pth,
        "hooks": hooks,
    }
