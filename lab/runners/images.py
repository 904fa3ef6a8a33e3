"""Runner images, built with no container registry.

The base image is a Debian root file system made by mmdebstrap from the mirror in this
machine's own apt sources and imported with ``docker import``; the runner image adds an
ordinary user and a fixed path to the interpreter. There are two of each: a pure-Python one
(a Python with venv: all that the issue's scenario and the pure-Python templates need, and
quick to make) and a native one that adds the compilers of the native templates (C, Rust),
which is made only where one of those runs. Nothing of the lab is baked in: the
reference builder, uv and the wheelhouse are mounted read-only as resources, so changing
them never rebuilds an image. Each image is tagged with a digest of its inputs, so an image
exists exactly when it is up to date and ``ensure`` rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from lab import data
from lab.errors import LabError
from lab.log import log

BASE_REPO = "cachelab-base"
RUNNER_REPO = "cachelab-runner"
SUITE = "bookworm"
RUNNER_UID = 1000
RUNNER_PYTHON = "/opt/cachelab/python3"  # the image's python3, wherever the base put it
INPUTS_LABEL = "org.cachelab.inputs"
_APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))


class ImageError(LabError):
    """An image could not be built or found."""


@dataclass(frozen=True)
class ImageTags:
    """What ``ensure`` would build: tags derived from the inputs."""

    base: str  # an image reference; ours is cachelab-base:<digest>
    runner: str
    base_is_ours: bool


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _dockerfile() -> Path:
    return data.images_dir() / "runner" / "Dockerfile"


def _listed(name: str) -> list[str]:
    lines = (data.images_dir() / name / "packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def base_packages(native: bool = False) -> list[str]:
    """The Debian packages of a base image: a Python with venv; ``native``: and compilers."""
    return _listed("base") + (_listed("native") if native else [])


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    files: list[Path] = []
    for source in _APT_SOURCES:
        if source.is_dir():
            files += sorted(source.glob("*.sources")) + sorted(source.glob("*.list"))
        elif source.is_file():
            files.append(source)
    for path in files:
        text = path.read_text(errors="replace")
        uris: list[str] = re.findall(r"^URIs:\s*(\S+)", text, re.MULTILINE)
        uris += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", text, re.MULTILINE)
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise ImageError(
        "no Debian mirror in /etc/apt/sources.list{,.d}; pass --base-image IMAGE (any image with "
        "python3 and venv) instead of building the base from Debian's packages"
    )


def tags(base: str | None = None, native: bool = False) -> ImageTags:
    """The tags that the current inputs give, whether or not the images exist: of the
    pure-Python images, or (``native``) of the ones with compilers. A base of the user's
    (``base``) serves both: it has the compilers it has."""
    ours = base is None
    if base is None:
        base = f"{BASE_REPO}:{_digest(SUITE, *base_packages(native))}"
    runner = _digest(base, _dockerfile().read_bytes(), str(RUNNER_UID), RUNNER_PYTHON)
    return ImageTags(base=base, runner=f"{RUNNER_REPO}:{runner}", base_is_ours=ours)


def needs_native(binaries: frozenset[str]) -> bool:
    """Whether programs beyond the runner's Python (a compiler) must be on PATH."""
    return bool(binaries)


def _exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _build_base(client: docker.DockerClient, tag: str, packages: list[str]) -> None:
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ImageError(
            "mmdebstrap is not installed: `apt-get install mmdebstrap` (the Makefile does this "
            "as root), or pass --base-image IMAGE to build on an ordinary Python image"
        )
    mirror = debian_mirror()
    log(f"building {tag} from Debian {SUITE} ({mirror}) with mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="cachelab-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        cmd = [
            mmdebstrap,
            "--variant=minbase",
            f"--include={','.join(packages)}",
            "--format=tar",
            SUITE,
            str(rootfs),
            mirror,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise ImageError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
        repo, _, version = tag.partition(":")
        try:
            client.api.import_image_from_file(
                str(rootfs),
                repository=repo,
                tag=version,
                changes=[
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "ENV LANG=C.UTF-8",
                    'CMD ["/bin/sh"]',
                    f"LABEL {INPUTS_LABEL}={version}",
                ],
            )
        except docker.errors.APIError as exc:
            raise ImageError(f"docker import of {rootfs} as {tag} failed: {exc}") from exc
    if not _exists(client, tag):
        raise ImageError(f"docker import of {tag} reported no error but the image is missing")


def _build_runner(client: docker.DockerClient, p: ImageTags) -> None:
    log(f"building {p.runner} on {p.base}")
    with tempfile.TemporaryDirectory(prefix="cachelab-runner-") as tmp:
        context = Path(tmp)
        shutil.copy2(_dockerfile(), context / "Dockerfile")
        buildargs = {"BASE": p.base, "RUNNER_UID": str(RUNNER_UID), "RUNNER_PYTHON": RUNNER_PYTHON}
        try:
            client.images.build(
                path=str(context),
                tag=p.runner,
                buildargs=buildargs,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",  # offline: everything comes from the base
                labels={INPUTS_LABEL: p.runner.partition(":")[2]},
            )
        except docker.errors.BuildError as exc:
            lines = [
                str(chunk.get("stream", chunk.get("error", ""))).rstrip() for chunk in exc.build_log
            ]
            tail = "\n".join([line for line in lines if line][-15:])
            raise ImageError(f"building {p.runner} failed: {exc.msg}\n{tail}") from exc
        except docker.errors.APIError as exc:
            raise ImageError(f"building {p.runner} failed: {exc}") from exc


def ensure(
    client: docker.DockerClient,
    base: str | None = None,
    native: bool = True,
) -> ImageTags:
    """Build whatever image is missing for the current inputs: the pure-Python ones, and
    (``native``) the ones with compilers; return the pure-Python ones' tags."""
    for with_compilers in (False, True) if native else (False,):
        p = tags(base, with_compilers)
        if not _exists(client, p.base):
            if not p.base_is_ours:
                raise ImageError(
                    f"base image {p.base} is not present and no registry is used: "
                    "load or build it first"
                )
            _build_base(client, p.base, base_packages(with_compilers))
        if not _exists(client, p.runner):
            _build_runner(client, p)
    return tags(base)
