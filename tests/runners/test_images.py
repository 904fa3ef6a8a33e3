from __future__ import annotations

from pathlib import Path

import pytest

from lab.log import logging_to
from lab.runners import images
from lab.runners.docker import DockerBackend


@pytest.mark.integration  # builds the images where they are out of date
def test_images_are_up_to_date_and_ensure_builds_nothing(docker_backend: DockerBackend) -> None:
    logged: list[str] = []
    with logging_to(logged.append):
        built = images.ensure(docker_backend.client())
    assert logged == []  # idempotent: `make images` on an unchanged tree does nothing
    assert built.runner == docker_backend.image
    labels = docker_backend.client().images.get(built.runner).labels
    assert labels[images.INPUTS_LABEL] == built.runner.partition(":")[2]


def test_the_tag_follows_the_inputs() -> None:
    ours = images.tags()
    assert ours == images.tags()
    assert ours.base.startswith("cachelab-base:") and ours.base_is_ours
    native = images.tags(native=True)
    assert native.base != ours.base and native.runner != ours.runner
    assert set(images.base_packages()) < set(images.base_packages(native=True))
    other = images.tags(base="python:3.11-slim")
    assert other.base == "python:3.11-slim" and not other.base_is_ours
    assert other.runner != ours.runner
    assert images.tags(base="python:3.11-slim", native=True) == other  # it has what it has


@pytest.mark.integration
def test_only_the_native_image_carries_compilers(docker_backend: DockerBackend) -> None:
    """The pure-Python image is what the issue's scenario needs, and quick to make; a
    template that compiles runs in the native one, which the backend picks for it."""
    client = docker_backend.client()
    found = {}
    for native in (False, True):
        tag = images.tags(native=native).runner
        script = "for p in cc cargo rustc; do command -v $p >/dev/null && echo $p; done; true"
        found[native] = client.containers.run(
            tag, ["sh", "-c", script], remove=True, network_mode="none"
        ).split()
    assert found == {False: [], True: [b"cc", b"cargo", b"rustc"]}
    backend = DockerBackend()
    backend.check(frozenset({"cc"}))
    assert backend.image == images.tags(native=True).runner
    backend.check()
    assert backend.image == images.tags().runner


@pytest.mark.integration
def test_the_runner_image_carries_nothing_of_the_lab(docker_backend: DockerBackend) -> None:
    """The builder, uv and the wheelhouse are mounted as resources: changing them never
    rebuilds an image, and the image has a Python that can make venvs."""
    client = docker_backend.client()
    out = client.containers.run(
        str(docker_backend.image),
        ["sh", "-c", f"{images.RUNNER_PYTHON} -c 'import venv; print(1)'; ls /opt/cachelab"],
        remove=True,
        network_mode="none",
    )
    assert out.decode().split() == ["1", "python3"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "debian.sources",
            "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n",
        ),
        ("sources.list", "deb [arch=amd64] http://mirror.example/debian bookworm main\n"),
    ],
)
def test_the_mirror_comes_from_apt_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    (tmp_path / "other.sources").write_text("URIs: https://deb.nodesource.com/node_20.x\n")
    (tmp_path / name).write_text(text)
    monkeypatch.setattr(images, "_APT_SOURCES", (tmp_path,))
    assert images.debian_mirror() == "http://mirror.example/debian"


def test_no_mirror_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "_APT_SOURCES", (tmp_path,))
    with pytest.raises(images.ImageError, match="pass --base-image IMAGE"):
        images.debian_mirror()
