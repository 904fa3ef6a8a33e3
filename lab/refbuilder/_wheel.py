"""What a wheel must be before anyone trusts it: a readable zip whose RECORD matches every
member, with one ``.dist-info`` whose name and version, and those its METADATA gives, are the
file name's. The builder checks its own builds with this before it installs and publishes
them, and every entry it reads."""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import io
import zipfile
import zlib
from pathlib import Path

from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

_UNSIGNED = (".dist-info/RECORD", ".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")


def record_hash_matches(algorithm_and_digest: str, data: bytes) -> bool:
    algorithm, _, digest = algorithm_and_digest.partition("=")
    try:
        h = hashlib.new(algorithm, data)
    except ValueError:
        return False
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode() == digest


def record_rows(text: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in csv.reader(io.StringIO(text)) if len(row) >= 2]


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def problem(path: Path) -> str | None:
    """What is wrong with the wheel at ``path``, or None."""
    try:
        name, version, _, _ = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        return f"not a wheel's file name: {exc}"
    try:
        with zipfile.ZipFile(path) as whl:
            bad_member = whl.testzip()
            if bad_member is not None:
                return f"member {bad_member} fails its CRC"
            names = whl.namelist()
            records = [n for n in names if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
            if len(records) != 1:
                return f"{len(records)} RECORD files at the top, not one"
            record = records[0]
            return _metadata_problem(whl, record, name, version) or _record_problem(whl, record)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError, KeyError) as exc:
        return f"not a readable wheel: {exc}"


def _metadata_problem(
    whl: zipfile.ZipFile, record: str, name: NormalizedName, version: Version
) -> str | None:
    """Where the wheel's .dist-info (its ``record``'s directory) or its METADATA name another
    distribution or version than the file name does, or None."""
    dist_info = record.split("/")[0].removesuffix(".dist-info")
    info_name, _, info_version = dist_info.rpartition("-")
    if canonicalize_name(info_name) != name or _version(info_version) != version:
        return f"its {dist_info}.dist-info is not {name} {version}, as its file name says"
    metadata_name = f"{dist_info}.dist-info/METADATA"
    if metadata_name not in whl.namelist():
        return f"it has no {metadata_name}"
    metadata = email.parser.BytesParser().parsebytes(whl.read(metadata_name))
    said_name, said_version = metadata.get("Name", ""), metadata.get("Version", "")
    if canonicalize_name(said_name) != name or _version(said_version) != version:
        return f"its METADATA says {said_name} {said_version}, its file name {name} {version}"
    return None


def _record_problem(whl: zipfile.ZipFile, record: str) -> str | None:
    """The first member that the wheel's ``record`` does not list or whose hash it does not
    match, or None."""
    listed = dict(record_rows(whl.read(record).decode()))
    for member in whl.namelist():
        if member.endswith("/") or member.endswith(_UNSIGNED):
            continue
        if member not in listed:
            return f"{member} is not in its RECORD"
        if listed[member] and not record_hash_matches(listed[member], whl.read(member)):
            return f"{member} does not match its RECORD hash"
    return None
