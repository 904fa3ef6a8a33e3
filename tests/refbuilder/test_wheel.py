"""A wheel is trusted only when every part of it agrees: name, zip, RECORD, METADATA."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lab.refbuilder._wheel import problem
from tests.refbuilder.conftest import WHEEL, wheel_bytes


def _wheel(tmp_path: Path, data: bytes, name: str = WHEEL) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_sound_wheel_has_no_problem(tmp_path: Path) -> None:
    assert problem(_wheel(tmp_path, wheel_bytes(b"x = 1\n"))) is None


@pytest.mark.parametrize(
    ("metadata", "said"),
    [
        (b"Metadata-Version: 2.1\nName: other\nVersion: 1.0\n", "METADATA says other 1.0"),
        (b"Metadata-Version: 2.1\nName: demo\nVersion: 2.0\n", "METADATA says demo 2.0"),
        (b"Metadata-Version: 2.1\n", "METADATA says  "),
    ],
)
def test_metadata_that_contradicts_the_file_name_is_named(
    tmp_path: Path, metadata: bytes, said: str
) -> None:
    # RECORD lists the METADATA's true hash: only the comparison with the name can tell
    found = problem(_wheel(tmp_path, wheel_bytes(b"", metadata)))
    assert found is not None and said in found


def test_a_file_name_that_names_another_distribution_is_named(tmp_path: Path) -> None:
    found = problem(_wheel(tmp_path, wheel_bytes(b""), "other-1.0-py3-none-any.whl"))
    assert found == "its demo-1.0.dist-info is not other 1.0, as its file name says"


def test_a_member_changed_after_its_record_is_named(tmp_path: Path) -> None:
    path = _wheel(tmp_path, wheel_bytes(b"x = 1\n"))
    with zipfile.ZipFile(path, "a") as whl:
        whl.writestr("extra.py", b"")
    assert problem(path) == "extra.py is not in its RECORD"


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("demo.whl", b"", "not a wheel's file name"),
        (WHEEL, b"not a zip", "not a readable wheel"),
    ],
)
def test_what_is_no_wheel_at_all_is_named(
    tmp_path: Path, name: str, data: bytes, said: str
) -> None:
    found = problem(_wheel(tmp_path, data, name))
    assert found is not None and found.startswith(said)
