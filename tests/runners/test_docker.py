"""The Docker backend against the real engine: mounts, lockdown, streams, cleanup."""

from __future__ import annotations

import os
from pathlib import Path

import docker
import pytest

from lab.runners import images
from lab.runners.base import RunnerSpec
from lab.runners.containers import LABEL_OWNER, LABEL_RUN, chown_tree, reap_orphans
from lab.runners.docker import DockerBackend
from lab.runners.view import Mount
from tests.runners.conftest import collect

pytestmark = pytest.mark.integration  # every test starts containers


def _spec(name: str, script: str, mounts: list[Mount], tmpfs: tuple[str, ...] = ()) -> RunnerSpec:
    return RunnerSpec(
        name=name,
        argv=["sh", "-c", script],
        env={"PATH": "/usr/bin:/bin"},
        workdir="/",
        mounts=mounts,
        tmpfs=tmpfs,
    )


def _containers(run_id: str) -> list[str]:
    client = docker.from_env()
    found = client.containers.list(
        all=True, filters={"label": f"{LABEL_RUN}={run_id}"}, ignore_removed=True
    )
    return [str(c.name) for c in found]


def test_round_trip_streams_and_exit_code(docker_backend: DockerBackend) -> None:
    lines: list[str] = []
    run_id = f"test-{os.getpid()}-round-trip"
    with docker_backend.session(run_id) as session:
        handle = session.start(
            _spec("r", "echo out; echo err >&2; printf tail; exit 3", []), collect(lines)
        )
        assert handle.wait(60) == 3
        assert _containers(run_id) == [f"cachelab-{run_id}-r"]
    assert sorted(lines) == ["stderr:err", "stdout:out", "stdout:tail"]
    assert _containers(run_id) == []


def test_identical_paths_one_cache_and_a_locked_down_runner(
    tmp_path: Path, docker_backend: DockerBackend
) -> None:
    cache, wheels = tmp_path / "cache", tmp_path / "wheels"
    cache.mkdir()
    wheels.mkdir()
    script = (
        "cat /src/marker; echo; stat -c %i /cache; id -u; grep CapEff /proc/self/status | cut -f2;"
        " tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ';"
        " touch /wheelhouse/x 2>/dev/null && echo wheelhouse-writable || echo wheelhouse-read-only;"
        " touch /cache/$(cat /src/marker) && echo cache-writable;"
        " touch /src/.venv/ok && echo venv-writable;"
        " cp /bin/true /src/.venv/t && /src/.venv/t && echo venv-exec"
    )
    outputs: dict[str, list[str]] = {}
    with docker_backend.session(f"test-{os.getpid()}-paths") as session:
        handles = []
        for name in ("runner-1", "runner-2"):
            checkout = tmp_path / name
            checkout.mkdir()
            (checkout / "marker").write_text(name)
            mounts = [
                Mount(checkout, "/src"),
                Mount(cache, "/cache"),
                Mount(wheels, "/wheelhouse", read_only=True),
            ]
            outputs[name] = []
            spec = _spec(name, script, mounts, tmpfs=("/src/.venv",))
            handles.append(session.start(spec, collect(outputs[name])))
        assert [h.wait(60) for h in handles] == [0, 0]
    inode = str(cache.stat().st_ino)
    for name, lines in outputs.items():
        assert lines == [
            f"stdout:{name}",
            f"stdout:{inode}",
            f"stdout:{images.RUNNER_UID}",
            "stdout:0000000000000000",  # no capabilities at all
            "stdout:lo",  # no network but loopback
            "stdout:wheelhouse-read-only",
            "stdout:cache-writable",
            "stdout:venv-writable",
            "stdout:venv-exec",  # native modules in the venv must load (no noexec)
        ]
    assert sorted(p.name for p in cache.iterdir()) == ["runner-1", "runner-2"]
    assert not (tmp_path / "runner-1" / ".venv" / "ok").exists()  # the .venv was a tmpfs


def test_containers_of_a_dead_orchestrator_are_reaped(docker_backend: DockerBackend) -> None:
    client = docker_backend.client()
    run_id = f"test-{os.getpid()}-orphan"
    dead_owner = f"{os.uname().nodename}/999999999/0"  # no such pid
    assert docker_backend.image is not None
    client.containers.create(
        docker_backend.image,
        command=["sleep", "300"],
        name=f"cachelab-{run_id}-r",
        labels={LABEL_RUN: run_id, LABEL_OWNER: dead_owner},
        network_mode="none",
    ).start()
    assert _containers(run_id) == [f"cachelab-{run_id}-r"]
    assert f"cachelab-{run_id}-r" in reap_orphans(client)
    assert _containers(run_id) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another uid needs root")
def test_handing_a_checkout_over_again_changes_no_ctime(tmp_path: Path) -> None:
    """uv's freshness reads ctimes: a second step's chown must not make a checkout look
    edited."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "pyproject.toml").write_text("")
    chown_tree(tmp_path, images.RUNNER_UID, images.RUNNER_UID)
    before = (tmp_path / "src" / "pyproject.toml").stat()
    chown_tree(tmp_path, images.RUNNER_UID, images.RUNNER_UID)
    after = (tmp_path / "src" / "pyproject.toml").stat()
    assert before.st_uid == images.RUNNER_UID and after.st_ctime_ns == before.st_ctime_ns
