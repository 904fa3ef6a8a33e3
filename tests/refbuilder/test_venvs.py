"""Venvs of one interpreter: asked and made in the builder's process where it is the
builder's own interpreter, by running it otherwise; both ways must agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab.refbuilder import _venvs
from lab.refbuilder._venvs import Interpreter, VenvError
from tests.refbuilder.conftest import BASE_PYTHON


def test_the_running_interpreter_is_recognised_through_its_venv() -> None:
    assert _venvs._is_running(BASE_PYTHON)
    assert _venvs._is_running(Path(sys.executable))
    assert not _venvs._is_running(Path("/bin/sh"))


def test_asked_in_process_and_by_running_it_say_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = Interpreter.of(BASE_PYTHON)
    monkeypatch.setattr(_venvs, "_is_running", lambda _python: False)
    Interpreter.of.cache_clear()  # asked once per builder: ask again, by running it
    ran: list[tuple[str, list[str]]] = []
    run = _venvs._run

    def counted(what: str, cmd: list[str]) -> str:
        ran.append((what, cmd))
        return run(what, cmd)

    monkeypatch.setattr(_venvs, "_run", counted)
    asked = Interpreter.of(BASE_PYTHON)
    Interpreter.of.cache_clear()
    assert len(ran) == 1 and asked == here
    assert here.target.tags[0].startswith("cp3")
    assert here.scheme(Path("/v"), "dist")["purelib"].startswith("/v/lib/python3.")
    assert here.scheme(Path("/v"), "dist")["headers"].endswith("/dist")


@pytest.mark.parametrize("in_process", [True, False])
def test_a_venv_is_made_without_pip_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_process: bool
) -> None:
    if not in_process:
        monkeypatch.setattr(_venvs, "_is_running", lambda _python: False)
    _venvs.create(tmp_path / "venv", BASE_PYTHON)
    python = tmp_path / "venv" / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"
    assert not list((tmp_path / "venv").rglob("pip"))


def test_a_venv_where_a_file_is_fails_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(VenvError, match="venv: "):
        _venvs.create(tmp_path / "file", BASE_PYTHON)


def test_an_interpreter_that_is_not_there_fails_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-python"
    with pytest.raises(VenvError, match=f"`{missing}`"):
        Interpreter.of(missing)
    with pytest.raises(VenvError, match=f"`{missing}`"):
        _venvs.create(tmp_path / "venv", missing)
