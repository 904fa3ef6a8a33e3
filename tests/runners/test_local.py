"""The local backend, for real: namespaces, identical paths, no network, cleanup."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from lab.errors import BackendUnavailable, ToolchainError
from lab.runners.base import RunnerSpec, Stamp
from lab.runners.local import LocalBackend, host_bin_dir
from lab.runners.view import Mount
from tests.runners.conftest import collect

pytestmark = pytest.mark.integration  # every test starts runners

PATH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def _spec(
    name: str, script: str, mounts: list[Mount], workdir: str, tmpfs: tuple[str, ...] = ()
) -> RunnerSpec:
    return RunnerSpec(
        name=name,
        argv=["sh", "-c", script],
        env=PATH_ENV,
        workdir=workdir,
        mounts=mounts,
        tmpfs=tmpfs,
    )


def _ignore(stream: str, line: str, stamp: Stamp | None = None) -> None:
    pass


def test_runners_see_their_own_checkout_at_one_path_and_one_cache(
    tmp_path: Path, local_backend: LocalBackend
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    target = str(tmp_path / "mnt" / "src")
    outputs: dict[str, list[str]] = {}
    with local_backend.session("t") as session:
        handles = []
        for name in ("runner-1", "runner-2"):
            checkout = tmp_path / "checkouts" / name
            checkout.mkdir(parents=True)
            (checkout / "marker").write_text(name)
            script = f"cat marker; echo; pwd; stat -c %i {cache}; ls -A .venv | wc -l"
            spec = _spec(
                name,
                script,
                [Mount(checkout, target), Mount(cache, str(cache))],
                target,
                tmpfs=(f"{target}/.venv",),
            )
            outputs[name] = []
            handles.append(session.start(spec, collect(outputs[name])))
        assert [h.wait(30) for h in handles] == [0, 0]
    inode = str(cache.stat().st_ino)
    for name, lines in outputs.items():
        assert lines == [f"stdout:{name}", f"stdout:{target}", f"stdout:{inode}", "stdout:0"]
    # the host's mount point stayed empty: the binds lived only in the runners' namespaces
    assert list(Path(target).iterdir()) == []


def test_no_network_and_read_only_mounts(tmp_path: Path, local_backend: LocalBackend) -> None:
    ro = tmp_path / "wheelhouse"
    ro.mkdir()
    lines: list[str] = []
    script = (
        "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; "
        f"touch {ro}/x 2>/dev/null && echo writable || echo read-only"
    )
    spec = _spec("r", script, [Mount(ro, str(ro), read_only=True)], str(tmp_path))
    with local_backend.session("t") as session:
        assert session.start(spec, collect(lines)).wait(30) == 0
    assert lines == ["stdout:lo", "stdout:read-only"]
    assert not (ro / "x").exists()


def test_leaving_the_session_kills_the_whole_process_group(
    tmp_path: Path, local_backend: LocalBackend
) -> None:
    pidfile = tmp_path / "child.pid"
    spec = _spec("r", f"sleep 300 & echo $! > {pidfile}; wait", [], str(tmp_path))
    with local_backend.session("t") as session:
        handle = session.start(spec, _ignore)
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child = int(pidfile.read_text())
    assert handle.wait(5) == -signal.SIGKILL
    time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or _is_zombie(child)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_exit_codes_come_through(tmp_path: Path, local_backend: LocalBackend) -> None:
    with local_backend.session("t") as session:
        handle = session.start(_spec("r", "exit 3", [], str(tmp_path)), _ignore)
        assert handle.wait(30) == 3


def test_missing_unshare_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnavailable, match=r"`unshare` \(util-linux\) is not on PATH"):
        LocalBackend().check()


def test_host_binaries_resolve_past_rustup_proxies() -> None:
    rust = host_bin_dir("rustc")
    assert (rust / "rustc").is_file() and (rust / "cargo").is_file()
    assert (rust / "rustc").resolve().name != "rustup"  # works without the user's HOME
    with pytest.raises(ToolchainError, match="`no-such-tool` is not on PATH"):
        host_bin_dir("no-such-tool")
