"""Demo projects rendered from jinja2 templates.

A template is a plain directory under ``lab/projects/templates/<name>/``: ``template.toml``
describes it and ``project/`` holds the files. Files ending in ``.j2`` are rendered (the
suffix dropped), the rest are copied as they are. Adding a backend means adding a directory,
no code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from lab.errors import TemplateError
from lab.projects import cargo
from lab.projects.identity import Identity, NativeCall, normalized
from lab.runners.view import Needs, RunnerView

TEMPLATES_DIR = Path(__file__).parent / "templates"
_SUFFIX = ".j2"
# Set in a build's environment, a template's build does not sleep its build delay: the delay
# stands for a build's cost, which the oracle, needing only the result, need not pay.
NO_DELAY_ENV = "CACHELAB_NO_DELAY"
# What every template takes besides its own parameters: how long its build sleeps, and the
# identity of each checkout (its version, its dependencies and the marker of its parameters
# in its code).
COMMON_PARAMETERS: Mapping[str, Any] = {
    "build_delay": 10.0,
    "version": "0.1.0",
    "dependencies": [],
    "marker": "",
}


@dataclass(frozen=True)
class Template:
    name: str
    root: Path
    description: str
    build_backend: str
    import_name: str
    check: str  # Python run in the runner's venv after the install; it must exercise the build
    wheelhouse: tuple[str, ...]
    vendor_crates: bool  # project/Cargo.lock's crates are vendored for offline cargo builds
    binaries: tuple[str, ...] = ()  # programs its build runs (a C compiler), beyond cargo
    native: NativeCall | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.name

    @property
    def module(self) -> str:
        return self.import_name

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    @property
    def needs(self) -> Needs:
        """What its build needs in a runner, besides what the subject needs."""
        if not self.vendor_crates:
            return Needs(binaries=frozenset(self.binaries))
        return cargo.NEEDS | Needs(binaries=frozenset(self.binaries))

    def runner_env(self, view: RunnerView) -> dict[str, str]:
        """Environment its build needs in a runner, beside the files of ``home_files``."""
        return cargo.runner_env(view) if self.vendor_crates else {}

    def home_files(self, view: RunnerView) -> dict[str, str]:
        """Files its build needs in a runner's HOME, by path relative to it."""
        return cargo.home_files(view) if self.vendor_crates else {}

    def marked(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with the marker of what they render: a digest of the template and every
        parameter but the marker. Checkouts rendered alike are alike, as CI's checkouts of one
        commit are, so a cache (and the oracle's) may serve one's build for the other; a
        checkout rendered otherwise has another marker, and its code says which."""
        values = {k: v for k, v in {**self.parameters, **params}.items() if k != "marker"}
        said = json.dumps({"template": self.name, "parameters": values}, sort_keys=True)
        return {**params, "marker": hashlib.sha256(said.encode()).hexdigest()[:16]}

    def identity(self, params: Mapping[str, Any], checkout: str, checkout_name: str) -> Identity:
        """What a runner that sees the checkout rendered with ``params`` at ``checkout`` must
        find installed."""
        values = {**self.parameters, **params}
        return Identity(
            checkout=checkout,
            checkout_name=checkout_name,
            marker=str(values["marker"]),
            distribution=normalized(str(values["project_name"])),
            version=str(values["version"]),
            requires=tuple(values["dependencies"]),
            module=self.import_name,
            native=self.native,
        )

    def probe_spec(self, checkout: str) -> str:
        """What the probe looks at in a runner's venv (never what it should find), as JSON;
        ``checkout``: where the runner sees its checkout (written ``{checkout}`` in texts)."""
        return json.dumps(
            {
                "checkout": checkout,
                "distribution": normalized(str(self.parameters["project_name"])),
                "module": self.import_name,
                "native": dataclasses.asdict(self.native) if self.native else None,
                "check": self.check,
            }
        )

    def render(self, dest: Path, params: Mapping[str, Any]) -> None:
        """Write the project into ``dest`` (which must not exist yet)."""
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            raise TemplateError(
                self.name,
                self.root / "template.toml",
                f"unknown parameter(s) {unknown}; it takes {sorted(self.parameters)}",
            )
        values = {**self.parameters, **params}
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.project_dir),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        dest.mkdir(parents=True)
        for src in sorted(self.project_dir.rglob("*")):
            rel = src.relative_to(self.project_dir)
            if src.is_dir():
                (dest / rel).mkdir(exist_ok=True)
            elif src.name.endswith(_SUFFIX):
                target = dest / rel.with_name(src.name[: -len(_SUFFIX)])
                try:
                    text = env.get_template(rel.as_posix()).render(values)
                except jinja2.TemplateError as exc:
                    raise TemplateError(self.name, src, str(exc)) from exc
                target.write_text(text)
            else:
                shutil.copy2(src, dest / rel)


def _load(root: Path) -> Template:
    meta_path = root / "template.toml"
    try:
        meta = tomllib.loads(meta_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(root.name, meta_path, str(exc)) from exc
    required = ("description", "build_backend", "import_name", "check", "wheelhouse")
    missing = [k for k in required if k not in meta]
    if missing:
        raise TemplateError(root.name, meta_path, f"missing field(s) {missing}")
    if not (root / "project").is_dir():
        raise TemplateError(root.name, root / "project", "the template has no project/ directory")
    native = meta.get("native")
    return Template(
        name=root.name,
        root=root,
        description=str(meta["description"]),
        build_backend=str(meta["build_backend"]),
        import_name=str(meta["import_name"]),
        check=str(meta["check"]),
        wheelhouse=tuple(meta["wheelhouse"]),
        vendor_crates=bool(meta.get("vendor_crates", False)),
        binaries=tuple(meta.get("binaries", ())),
        native=_native(root.name, meta_path, native) if native is not None else None,
        parameters={**COMMON_PARAMETERS, **meta.get("parameters", {})},
    )


def _native(name: str, meta_path: Path, table: Any) -> NativeCall:
    try:
        return NativeCall(
            str(table["module"]), str(table["function"]), tuple(table["args"]), table["result"]
        )
    except (KeyError, TypeError) as exc:
        raise TemplateError(
            name, meta_path, f"[native] needs module, function, args and result: {exc}"
        ) from exc


@cache
def available() -> dict[str, Template]:
    """All templates shipped with the lab, by name."""
    return {p.name: _load(p) for p in sorted(TEMPLATES_DIR.iterdir()) if p.is_dir()}


def get(name: str) -> Template:
    templates = available()
    if name not in templates:
        raise TemplateError(
            name, TEMPLATES_DIR / name, f"no such template; there are {sorted(templates)}"
        )
    return templates[name]
