from __future__ import annotations

import pytest

from lab.errors import BackendUnavailable
from lab.runners import select
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend

NO_ENGINE = "unix:///nonexistent/docker.sock"


def test_auto_prefers_docker_where_it_can_run(docker_backend: DockerBackend) -> None:
    backend, why = select.choose("auto")
    assert isinstance(backend, DockerBackend)
    assert why.startswith("auto: the Docker engine answers") and str(docker_backend.image) in why


def test_auto_falls_back_to_local_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    backend, why = select.choose("auto")
    assert isinstance(backend, LocalBackend)
    assert f"the Docker engine at {NO_ENGINE} does not answer" in why
    assert why.endswith("using private namespaces instead")


def test_docker_requested_without_an_engine_names_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    with pytest.raises(BackendUnavailable, match=f"the Docker engine at {NO_ENGINE}"):
        select.choose("docker")


@pytest.mark.usefixtures("docker_backend")
def test_docker_requested_without_the_image_names_the_image() -> None:
    with pytest.raises(
        BackendUnavailable, match=r"the runner image cachelab-runner:\w+ .*make images"
    ):
        select.choose("docker", base_image="no-such-base:1")
