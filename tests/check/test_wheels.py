"""The checker's judgement of wheels, against the reference builder's, on one corpus.

Good wheels are built here (and taken from the recorded runs); broken ones are made from them
by seeded random mutations. The builder's ``_wheel.problem`` is the oracle compared here, not
code the checker uses: what both must reject, both reject, and every good wheel both accept.
Where the checker is stricter by design, it alone is held to reject.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import random
import re
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from lab.check.wheels import unpacked_problem, wheel_problem
from lab.refbuilder._wheel import problem as builder_problem
from tests.check.conftest import RUNS

Members = list[tuple[str, bytes]]
Mutation = Callable[[Path, random.Random], Path]

# A seeded corpus (the same examples on every run), quick, and no example database left behind.
_CORPUS = settings(max_examples=25, deadline=None, derandomize=True, database=None)
_RECORDED = sorted(RUNS.rglob("*.whl"))  # real backends' wheels, from the recorded runs


@dataclass(frozen=True)
class Spec:
    """A good wheel: its name as a wheel's file name escapes it, its version, its files."""

    name: str
    version: str
    files: dict[str, bytes]

    @property
    def dist_info(self) -> str:
        return f"{self.name}-{self.version}.dist-info"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-py3-none-any.whl"


_specs = st.builds(
    Spec,
    st.from_regex(r"[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,4})?", fullmatch=True),
    st.builds(
        lambda release, pre: ".".join(map(str, release)) + pre,
        st.lists(st.integers(0, 30), min_size=1, max_size=3),
        st.sampled_from(["", ".post1", "a1", "rc2", ".dev3"]),
    ),
    st.dictionaries(
        st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.(py|txt|so)", fullmatch=True),
        st.binary(max_size=300),
        min_size=1,
        max_size=5,
    ),
)


@contextmanager
def _directory() -> Iterator[Path]:
    # hypothesis runs many examples in one test: each gets a fresh directory
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _recorded(members: Members, dist_info: str) -> Members:
    """``members`` with a RECORD that lists them all, as a build backend writes it."""
    record = f"{dist_info}/RECORD"
    kept = [(name, data) for name, data in members if name != record]
    rows = [[name, f"sha256={_digest(data)}", str(len(data))] for name, data in kept]
    return [*kept, (record, _csv([*rows, [record, "", ""]]))]


def _write(wheel: Path, members: Members, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(wheel, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return wheel


def _read(wheel: Path) -> Members:
    with zipfile.ZipFile(wheel) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _build(directory: Path, spec: Spec) -> Path:
    # METADATA names the distribution as its project does (dashes), the file name escaped
    metadata = f"Metadata-Version: 2.1\nName: {spec.name.replace('_', '-')}\n"
    metadata += f"Version: {spec.version}\n\n"
    wheel = "Wheel-Version: 1.0\nGenerator: cachelab-tests\nRoot-Is-Purelib: true\n"
    members = [
        *spec.files.items(),
        (f"{spec.dist_info}/METADATA", metadata.encode()),
        (f"{spec.dist_info}/WHEEL", wheel.encode()),
    ]
    return _write(directory / spec.filename, _recorded(members, spec.dist_info))


def _dist_info(members: Members) -> str:
    """The top-level ``.dist-info`` that holds RECORD (a good wheel has one)."""
    return next(
        name.removesuffix("/RECORD")
        for name, _ in members
        if name.endswith(".dist-info/RECORD") and name.count("/") == 1
    )


def _name_and_version(dist_info: str) -> tuple[str, str]:
    name, version = dist_info.removesuffix(".dist-info").split("-")
    return name, version


def _other_version(version: str) -> str:
    return f"{Version(version).major + 1}.0"


def _rows(members: Members, dist_info: str) -> list[list[str]]:
    text = dict(members)[f"{dist_info}/RECORD"].decode()
    return list(csv.reader(io.StringIO(text)))


def _with_rows(members: Members, dist_info: str, rows: list[list[str]]) -> Members:
    record = f"{dist_info}/RECORD"
    return [(name, _csv(rows) if name == record else data) for name, data in members]


def _changed_row(change: Callable[[list[str], random.Random], list[str] | None]) -> Mutation:
    """A mutation of one RECORD row (not RECORD's own): ``change`` returns None to drop it."""

    def mutate(wheel: Path, rng: random.Random) -> Path:
        members = _read(wheel)
        dist_info = _dist_info(members)
        rows = _rows(members, dist_info)
        i = rng.choice([i for i, row in enumerate(rows) if row[0] != f"{dist_info}/RECORD"])
        changed = change(rows[i], rng)
        rows[i : i + 1] = [] if changed is None else [changed]
        return _write(wheel, _with_rows(members, dist_info, rows))

    return mutate


def _flipped(data: bytes, rng: random.Random) -> bytes:
    changed = bytearray(data)
    changed[rng.randrange(len(changed))] ^= rng.randrange(1, 256)
    return bytes(changed)


# What both must reject -----------------------------------------------------------------------


def _member_changed(wheel: Path, rng: random.Random) -> Path:
    """A member's content changed after RECORD was written (its CRC is right)."""
    members = _read(wheel)
    record = f"{_dist_info(members)}/RECORD"
    i = rng.choice([i for i, (name, _) in enumerate(members) if name != record])
    name, data = members[i]
    members[i] = (name, _flipped(data, rng) if data else b"x")
    return _write(wheel, members)


def _data_offset(data: bytearray, info: zipfile.ZipInfo) -> int:
    # a local header is 30 bytes, then the member's name and extra field, whose lengths it gives
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + int(name_length) + int(extra_length)


def _stored_byte_flipped(wheel: Path, rng: random.Random) -> Path:
    """A byte of a member as the zip stores it: its CRC fails."""
    # stored, not deflated: a flip in deflate's padding bits would change nothing
    _write(wheel, _read(wheel), zipfile.ZIP_STORED)
    with zipfile.ZipFile(wheel) as archive:
        info = rng.choice([i for i in archive.infolist() if i.compress_size])
    data = bytearray(wheel.read_bytes())
    data[_data_offset(data, info) + rng.randrange(info.compress_size)] ^= rng.randrange(1, 256)
    wheel.write_bytes(data)
    return wheel


def _truncated(wheel: Path, rng: random.Random) -> Path:
    data = wheel.read_bytes()
    wheel.write_bytes(data[: rng.randrange(len(data))])
    return wheel


def _not_a_zip(wheel: Path, rng: random.Random) -> Path:
    wheel.write_bytes(rng.randbytes(rng.randrange(2000)))
    return wheel


def _unlisted_member_added(wheel: Path, rng: random.Random) -> Path:
    members = _read(wheel)
    members.insert(rng.randrange(len(members) + 1), ("unlisted-1.txt", rng.randbytes(8)))
    return _write(wheel, members)


def _dist_info_renamed(wheel: Path, rng: random.Random) -> Path:
    """The ``.dist-info`` of another name or version, with a RECORD that says so."""
    members = _read(wheel)
    old = _dist_info(members)
    name, version = _name_and_version(old)
    new = rng.choice([f"{name}x-{version}", f"{name}-{_other_version(version)}"]) + ".dist-info"
    moved = [(re.sub(rf"^{re.escape(old)}/", f"{new}/", n), data) for n, data in members]
    return _write(wheel, _recorded(moved, new))


def _metadata_changed(field: str) -> Mutation:
    """METADATA gives another Name or Version, and RECORD agrees with it."""

    def mutate(wheel: Path, _rng: random.Random) -> Path:
        members = _read(wheel)
        dist_info = _dist_info(members)
        name, version = _name_and_version(dist_info)
        line = f"{field}: " + {"Name": f"{name}x", "Version": _other_version(version)}[field]

        def changed(data: bytes) -> bytes:
            return re.sub(rf"^{field}: .*$", line, data.decode(), count=1, flags=re.M).encode()

        metadata = f"{dist_info}/METADATA"
        members = [(n, changed(d) if n == metadata else d) for n, d in members]
        return _write(wheel, _recorded(members, dist_info))

    return mutate


def _metadata_dropped(wheel: Path, _rng: random.Random) -> Path:
    members = _read(wheel)
    dist_info = _dist_info(members)
    kept = [(n, d) for n, d in members if n != f"{dist_info}/METADATA"]
    return _write(wheel, _recorded(kept, dist_info))


def _record_dropped(wheel: Path, _rng: random.Random) -> Path:
    members = _read(wheel)
    record = f"{_dist_info(members)}/RECORD"
    return _write(wheel, [(n, d) for n, d in members if n != record])


def _second_dist_info(wheel: Path, rng: random.Random) -> Path:
    """Another distribution's ``.dist-info``, with its own RECORD, listed in the first's."""
    members = _read(wheel)
    other = f"other{rng.randrange(100)}-1.0.dist-info"
    members += _recorded([(f"{other}/METADATA", b"Name: other\nVersion: 1.0\n")], other)
    return _write(wheel, _recorded(members, _dist_info(members)))


def _file_renamed(wheel: Path, rng: random.Random) -> Path:
    """The same wheel under another distribution's or version's file name."""
    name, version = wheel.name.split("-")[:2]
    new = rng.choice([f"{name}x-{version}", f"{name}-{_other_version(version)}"])
    return wheel.rename(wheel.with_name(f"{new}-py3-none-any.whl"))


def _hash_changed(row: list[str], rng: random.Random) -> list[str]:
    return [row[0], f"sha256={_digest(rng.randbytes(8))}", row[2]]


MUST_REJECT: dict[str, Mutation] = {
    "member-changed": _member_changed,
    "stored-byte-flipped": _stored_byte_flipped,
    "truncated": _truncated,
    "not-a-zip": _not_a_zip,
    "unlisted-member-added": _unlisted_member_added,
    "row-dropped": _changed_row(lambda _row, _rng: None),
    "hash-changed": _changed_row(_hash_changed),
    "dist-info-renamed": _dist_info_renamed,
    "metadata-name-changed": _metadata_changed("Name"),
    "metadata-version-changed": _metadata_changed("Version"),
    "metadata-dropped": _metadata_dropped,
    "record-dropped": _record_dropped,
    "second-dist-info": _second_dist_info,
    "file-renamed": _file_renamed,
}


# What the checker alone rejects: the builder's _wheel.problem lets these through -------------


def _member_gone(wheel: Path, rng: random.Random) -> Path:
    """A member RECORD lists is not in the zip (a wheel written in part)."""
    members = _read(wheel)
    dist_info = _dist_info(members)
    kept = (f"{dist_info}/RECORD", f"{dist_info}/METADATA")  # whose loss the builder sees
    members.remove(rng.choice([m for m in members if m[0] not in kept]))
    return _write(wheel, members)


def _record_unlisted(wheel: Path, _rng: random.Random) -> Path:
    """RECORD does not list itself."""
    members = _read(wheel)
    dist_info = _dist_info(members)
    rows = [row for row in _rows(members, dist_info) if row[0] != f"{dist_info}/RECORD"]
    return _write(wheel, _with_rows(members, dist_info, rows))


def _shadowed_member(wheel: Path, rng: random.Random) -> Path:
    """A second member of the same name, before the first, with other content: a zip reader
    that looks members up by name sees only the last, an installer writes both."""
    members = _read(wheel)
    record = f"{_dist_info(members)}/RECORD"
    name, data = rng.choice([m for m in members if m[0] != record])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        return _write(wheel, [(name, data + b"\n# shadowed"), *members])


def _metadata_not_utf8(wheel: Path, _rng: random.Random) -> Path:
    members = _read(wheel)
    dist_info = _dist_info(members)
    metadata = f"{dist_info}/METADATA"
    changed = [(n, d + b"Summary: \xff\n" if n == metadata else d) for n, d in members]
    return _write(wheel, _recorded(changed, dist_info))


def _second_dist_info_without_record(wheel: Path, _rng: random.Random) -> Path:
    members = _read(wheel)
    members.append(("other-1.0.dist-info/LICENSE", b"MIT\n"))
    return _write(wheel, _recorded(members, _dist_info(members)))


CHECKER_REJECTS: dict[str, Mutation] = {
    "member-gone": _member_gone,
    "record-unlisted": _record_unlisted,
    "shadowed-member": _shadowed_member,
    "metadata-not-utf8": _metadata_not_utf8,
    "second-dist-info-without-record": _second_dist_info_without_record,
    "hash-blanked": _changed_row(lambda row, _rng: [row[0], "", ""]),
    "size-wrong": _changed_row(lambda row, _rng: [row[0], row[1], str(int(row[2]) + 1)]),
    "two-fields": _changed_row(lambda row, _rng: row[:2]),
    "hash-name-not-hashlibs": _changed_row(
        lambda row, _rng: [row[0], row[1].replace("sha256=", "SHA256=", 1), row[2]]
    ),
}


# The tests -----------------------------------------------------------------------------------

# The builder raises on some broken wheels rather than naming them: a member that looks
# encrypted (RuntimeError) or compressed by an unknown method (NotImplementedError, a
# RuntimeError), a METADATA header that is not ASCII (AttributeError: email gives a Header,
# not a str). It refuses the wheel all the same; the checker must name what is wrong.
_BUILDER_RAISES = (AttributeError, RuntimeError)


def _builder_rejects(wheel: Path) -> bool:
    try:
        return builder_problem(wheel) is not None
    except _BUILDER_RAISES:
        return True


@_CORPUS
@given(spec=_specs)
def test_every_good_wheel_both_accept(spec: Spec) -> None:
    with _directory() as directory:
        wheel = _build(directory, spec)
        assert (builder_problem(wheel), wheel_problem(wheel)) == (None, None)


@pytest.mark.parametrize("recorded", _RECORDED, ids=lambda p: p.parent.name)
def test_every_recorded_wheel_both_accept(recorded: Path) -> None:
    assert (builder_problem(recorded), wheel_problem(recorded)) == (None, None)


@pytest.mark.parametrize("mutation", MUST_REJECT)
@_CORPUS
@given(spec=_specs, rng=st.randoms(use_true_random=False))
def test_every_broken_wheel_both_reject(mutation: str, spec: Spec, rng: random.Random) -> None:
    with _directory() as directory:
        broken = MUST_REJECT[mutation](_build(directory, spec), rng)
        assert _builder_rejects(broken)
        assert wheel_problem(broken) is not None


@pytest.mark.parametrize("recorded", _RECORDED, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("mutation", MUST_REJECT)
def test_every_broken_recorded_wheel_both_reject(
    mutation: str, recorded: Path, tmp_path: Path
) -> None:
    wheel = tmp_path / recorded.name
    wheel.write_bytes(recorded.read_bytes())
    broken = MUST_REJECT[mutation](wheel, random.Random(f"{mutation}/{recorded.parent.name}"))
    assert _builder_rejects(broken)
    assert wheel_problem(broken) is not None


@pytest.mark.parametrize("mutation", CHECKER_REJECTS)
@settings(_CORPUS, max_examples=10)
@given(spec=_specs, rng=st.randoms(use_true_random=False))
def test_what_the_checker_alone_rejects(mutation: str, spec: Spec, rng: random.Random) -> None:
    with _directory() as directory:
        assert wheel_problem(CHECKER_REJECTS[mutation](_build(directory, spec), rng)) is not None


@settings(_CORPUS, max_examples=200)
@given(spec=_specs, rng=st.randoms(use_true_random=False))
def test_a_flipped_bit_anywhere_the_builder_rejects_the_checker_rejects(
    spec: Spec, rng: random.Random
) -> None:
    """Wherever the flip lands (a name, a size, a CRC, a flag, the data), the checker judges
    without raising, and rejects what the builder rejects. Not the converse: a flip in what no
    reader looks at (a time stamp, deflate's padding) changes nothing for either, but one that
    gives two members one name only the checker sees."""
    with _directory() as directory:
        wheel = _build(directory, spec)
        data = bytearray(wheel.read_bytes())
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        wheel.write_bytes(data)
        assert wheel_problem(wheel) is not None or not _builder_rejects(wheel)


def test_the_checker_says_what_is_wrong(tmp_path: Path) -> None:
    spec = Spec("demo", "1.0", {"demo/__init__.py": b"x = 1\n"})
    rng = random.Random(0)
    said = {
        mutation: wheel_problem(MUST_REJECT[mutation](_build(tmp_path, spec), rng))
        for mutation in ("unlisted-member-added", "metadata-version-changed", "not-a-zip")
    }
    assert said == {
        "unlisted-member-added": "unlisted-1.txt is not mentioned in RECORD",
        "metadata-version-changed": "its METADATA says demo 2.0, its file name demo 1.0",
        "not-a-zip": "not a readable wheel: File is not a zip file",
    }


def test_a_metadata_header_that_is_not_ascii_is_named(tmp_path: Path) -> None:
    """The builder's email parser gives such a header as an object canonicalize_name cannot
    read; the checker reads METADATA as UTF-8 text, as installer does."""
    spec = Spec("demo", "1.0", {"demo/__init__.py": b"x = 1\n"})
    members = _read(_build(tmp_path, spec))
    renamed = [(n, d.replace(b"Name: demo", "Name: démo".encode())) for n, d in members]
    wheel = _write(tmp_path / spec.filename, _recorded(renamed, spec.dist_info))
    assert wheel_problem(wheel) == "its METADATA says démo 1.0, its file name demo 1.0"


def test_a_bit_that_gives_two_members_one_name_is_named(tmp_path: Path) -> None:
    """``c.py`` renamed ``a.py`` in the zip's directory, before the real ``a.py``: a reader
    that looks members up by name sees a good ``a.py`` twice and no ``c.py`` at all."""
    wheel = _build(tmp_path, Spec("demo", "1.0", {"c.py": b"c", "a.py": b"a"}))
    data = bytearray(wheel.read_bytes())
    data[data.index(b"c.py", data.index(b"PK\x01\x02"))] ^= ord("c") ^ ord("a")
    wheel.write_bytes(data)
    found = wheel_problem(wheel)
    assert found is not None and found.startswith("not a readable wheel: ")  # zipfile's words


# Unpacked wheels -----------------------------------------------------------------------------


def _unpacked(directory: Path, spec: Spec) -> Path:
    """The wheel of ``spec`` unpacked under ``directory``; its RECORD's path."""
    root = directory / "unpacked"
    with zipfile.ZipFile(_build(directory, spec)) as archive:
        archive.extractall(root)
    return root / spec.dist_info / "RECORD"


@_CORPUS
@given(spec=_specs, rng=st.randoms(use_true_random=False))
def test_an_unpacked_wheel_matches_its_record_until_a_file_changes(
    spec: Spec, rng: random.Random
) -> None:
    with _directory() as directory:
        record = _unpacked(directory, spec)
        assert unpacked_problem(record) is None
        name = rng.choice(sorted(spec.files))
        path = record.parent.parent / name
        if rng.random() < 0.5:
            path.write_bytes(_flipped(spec.files[name], rng) if spec.files[name] else b"x")
            assert unpacked_problem(record) == f"{name} does not match its RECORD hash and size"
        else:
            path.unlink()
            assert unpacked_problem(record) == f"{name} is missing"


def test_an_unpacked_wheel_outside_its_directory_is_not_judged(tmp_path: Path) -> None:
    """An installed environment's RECORD names its scripts as ``../../bin/...``; rows without
    a hash (byte code) are not judged either."""
    record = _unpacked(tmp_path, Spec("demo", "1.0", {"demo/__init__.py": b"x = 1\n"}))
    with record.open("a") as f:
        f.write("../../bin/demo,sha256=AAAA,4\ndemo/__pycache__/__init__.pyc,,\n")
    assert unpacked_problem(record) is None


def test_an_unreadable_record_is_named(tmp_path: Path) -> None:
    record = _unpacked(tmp_path, Spec("demo", "1.0", {"demo/__init__.py": b"x = 1\n"}))
    record.write_text("demo/__init__.py,sha256=AAAA\n")
    assert unpacked_problem(record) == (
        "cannot read RECORD: Row Index 0: expected 3 elements, got 2"
    )
    record.write_text("demo/__init__.py,md42=AAAA,6\n")
    assert unpacked_problem(record) == (
        "its RECORD row for demo/__init__.py is invalid: invalid hash algorithm 'md42'"
    )
