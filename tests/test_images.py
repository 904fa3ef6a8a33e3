from __future__ import annotations

from pathlib import Path

import pytest

from lab import images
from lab.runners.docker import DockerBackend
from lab.toolchain import Toolchain


def test_images_are_up_to_date_and_ensure_builds_nothing(docker_backend: DockerBackend) -> None:
    logged: list[str] = []
    built = images.ensure(docker_backend.client(), docker_backend.toolchain, log=logged.append)
    assert logged == []  # idempotent: `make images` on an unchanged tree does nothing
    assert built.runner == docker_backend.image
    labels = docker_backend.client().images.get(built.runner).labels
    assert labels[images.INPUTS_LABEL] == built.runner.partition(":")[2]


def test_the_tag_follows_the_inputs(lab_toolchain: Toolchain) -> None:
    ours = images.plan(lab_toolchain)
    assert ours == images.plan(lab_toolchain)
    assert ours.base.startswith("cachelab-base:") and ours.base_is_ours
    other = images.plan(lab_toolchain, base="python:3.11-slim")
    assert other.base == "python:3.11-slim" and not other.base_is_ours
    assert other.runner != ours.runner


def test_the_runner_image_gets_the_builder_deps_and_uv(lab_toolchain: Toolchain) -> None:
    names = {w.name.split("-")[0] for w in images._runner_wheels(lab_toolchain)}
    assert names == {"filelock", "installer", "packaging", "pyproject_hooks", "uv"}


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
