from __future__ import annotations

from pathlib import Path

import pytest

from lab import images
from lab.runners.docker import DockerBackend


@pytest.mark.integration  # builds the images where they are out of date
def test_images_are_up_to_date_and_ensure_builds_nothing(docker_backend: DockerBackend) -> None:
    logged: list[str] = []
    built = images.ensure(docker_backend.client(), log=logged.append)
    assert logged == []  # idempotent: `make images` on an unchanged tree does nothing
    assert built.runner == docker_backend.image
    labels = docker_backend.client().images.get(built.runner).labels
    assert labels[images.INPUTS_LABEL] == built.runner.partition(":")[2]


def test_the_tag_follows_the_inputs() -> None:
    ours = images.plan()
    assert ours == images.plan()
    assert ours.base.startswith("cachelab-base:") and ours.base_is_ours
    other = images.plan(base="python:3.11-slim")
    assert other.base == "python:3.11-slim" and not other.base_is_ours
    assert other.runner != ours.runner


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
