"""The checker's own judgement of a wheel: a wheel file, and a wheel unpacked in a directory.

It is built on pypa/installer (its ``WheelFile`` finds the one ``.dist-info`` and validates
``RECORD``; its ``RecordEntry`` validates an unpacked file) and packaging, never on the
reference builder it judges: a bug shared by both would let the builder publish a bad wheel
and the checker accept it. Its own code covers only what installer does not judge: the zip's
CRCs, the ``.dist-info``'s version, what ``METADATA`` says, and RECORD's rows that name no
member.

Each function returns what is wrong, or None.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file
from installer.sources import WheelFile
from installer.utils import parse_metadata_file
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

# What reading a damaged wheel raises: zipfile's and the decompressors' errors, text that is
# not UTF-8 (a ValueError), and where a flipped byte makes a member look encrypted or
# compressed by an unknown method, RuntimeError and NotImplementedError (a RuntimeError).
_UNREADABLE = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    RuntimeError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
)


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _said(message: str, path: Path) -> str:
    """installer's ``message`` about the wheel at ``path`` ("In /x/y.whl, a.py is not
    mentioned in RECORD") without its path: the checker's finding already says which wheel."""
    return message.replace(f"In {path}, ", "").replace(str(path), path.name)


def _crc_problem(archive: zipfile.ZipFile) -> str | None:
    # installer reads only what it checks against RECORD; every member must be intact
    bad_member = archive.testzip()
    return None if bad_member is None else f"member {bad_member} fails its CRC"


def _dist_info_problem(source: WheelFile, name: NormalizedName, version: Version) -> str | None:
    """Whether the one ``.dist-info`` is the file name's: installer compares the name only."""
    try:
        dist_info = source.dist_info_dir
    except ValueError as exc:  # not exactly one, or another distribution's
        return f"{getattr(exc, 'reason', exc)}: {getattr(exc, 'dist_info', '')}"
    # NAME-VERSION, split at the last dash as installer splits it
    info_name, _, info_version = dist_info.removesuffix(".dist-info").rpartition("-")
    if canonicalize_name(info_name) != name or _version(info_version) != version:
        return f"its {dist_info} is not {name} {version}, as its file name says"
    return None


def _metadata_problem(source: WheelFile, name: NormalizedName, version: Version) -> str | None:
    """Whether METADATA names the file name's distribution and version."""
    try:
        text = source.read_dist_info("METADATA")
    except KeyError:
        return f"it has no {source.dist_info_dir}/METADATA"
    metadata = parse_metadata_file(text)
    said_name, said_version = str(metadata.get("Name", "")), str(metadata.get("Version", ""))
    if canonicalize_name(said_name) != name or _version(said_version) != version:
        return f"its METADATA says {said_name} {said_version}, its file name {name} {version}"
    return None


def _record_problem(source: WheelFile) -> str | None:
    """installer's validation: every member listed in RECORD, with its hash and size."""
    try:
        source.validate_record()
    except WheelFile.validation_error as exc:
        issues: list[str] = getattr(exc, "issues", None) or [str(exc)]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        return issues[0] + more
    return None


def _missing_problem(source: WheelFile, archive: zipfile.ZipFile) -> str | None:
    """Whether RECORD lists a file the wheel lacks: installer checks only the other way."""
    rows = parse_record_file(source.read_dist_info("RECORD").splitlines())
    missing = sorted({name for name, _, _ in rows} - set(archive.namelist()))
    return f"{missing[0]} is in its RECORD but not in the wheel" if missing else None


def wheel_problem(path: Path) -> str | None:
    """What is wrong with the wheel file at ``path``, or None: a wheel's file name, a readable
    zip, one ``.dist-info`` and a METADATA that are the file name's distribution and version,
    and a RECORD that lists every member, and only those, with its hash and size."""
    try:
        name, version, _, _ = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        return f"not a wheel's file name: {exc}"
    try:
        with zipfile.ZipFile(path) as archive:
            source = WheelFile(archive)
            problem = (
                _crc_problem(archive)
                or _dist_info_problem(source, name, version)
                or _metadata_problem(source, name, version)
                or _record_problem(source)
                or _missing_problem(source, archive)
            )
    except _UNREADABLE as exc:
        problem = f"not a readable wheel: {exc}"
    return None if problem is None else _said(problem, path)


def _row_problem(root: Path, row: tuple[str, str, str]) -> str | None:
    name, digest, _ = row
    if not digest or ".." in PurePosixPath(name).parts:
        return None  # unhashed (RECORD, byte code), or outside the directory: not judged
    try:
        entry = RecordEntry.from_elements(*row)
    except InvalidRecordEntry as exc:
        return f"its RECORD row for {name} is invalid: {exc}"
    try:
        with (root / name).open("rb") as f:
            matches = entry.validate_stream(f)
    except OSError:
        return f"{name} is missing"
    return None if matches else f"{name} does not match its RECORD hash and size"


def unpacked_problem(record_file: Path) -> str | None:
    """What is wrong with the unpacked wheel whose RECORD is ``record_file``, or None. Paths
    that leave the directory (scripts of an installed environment) are not judged."""
    root = record_file.parent.parent
    try:
        rows = list(parse_record_file(record_file.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, InvalidRecordEntry) as exc:
        return f"cannot read {record_file.name}: {exc}"
    for row in rows:
        problem = _row_problem(root, row)
        if problem is not None:
            return problem
    return None
