"""Calling the backend's hooks. Every failure leaves as one BuildError with the backend's
name, the hook and the source tree (pypa/build's pattern)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyproject_hooks

from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import BuildError


def _runner_in(scripts: Sequence[Path]) -> pyproject_hooks.SubprocessRunner:
    """Run hooks with the build env's scripts first on PATH, as PEP 517 frontends do: some
    backends call their own executables (maturin runs `maturin pep517 ...`)."""

    def run(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        env = {**os.environ, **(extra_environ or {})}
        env["PATH"] = os.pathsep.join([*map(str, scripts), env.get("PATH", os.defpath)])
        # the env is shared and immutable once published: its byte code is made with it
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # The backend's output goes to stderr: the builder's stdout stays for its own result.
        subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdout=sys.stderr,
            check=True,
            preexec_fn=die_with_parent,
        )

    return run


class BuildBackend:
    def __init__(
        self,
        source: Path,
        build_backend: str,
        backend_path: Sequence[str] | None,
        python: Path,
        scripts: Sequence[Path],
    ) -> None:
        """``scripts``: the build env's script directories, which go first on PATH."""
        self.source = source
        self.name = build_backend
        self._caller = pyproject_hooks.BuildBackendHookCaller(
            str(source),
            build_backend,
            backend_path=backend_path,
            runner=_runner_in(scripts),
            python_executable=str(python),
        )

    @contextmanager
    def _hook(self, hook: str) -> Iterator[None]:
        try:
            yield
        except pyproject_hooks.BackendUnavailable as exc:
            raise BuildError(
                self.name,
                hook,
                self.source,
                "the backend cannot be imported: "
                + (exc.traceback.strip().splitlines() or ["no traceback"])[-1],
            ) from exc
        except pyproject_hooks.HookMissing as exc:
            raise BuildError(
                self.name,
                hook,
                self.source,
                f"the backend has no {exc.hook_name} hook (no PEP 660 support)",
            ) from exc
        except OSError as exc:
            raise BuildError(self.name, hook, self.source, f"cannot run the hook: {exc}") from exc
        except subprocess.CalledProcessError as exc:
            raise BuildError(
                self.name, hook, self.source, f"the hook exited with {exc.returncode}"
            ) from exc

    def _wrong(self, hook: str, result: object, wanted: str) -> BuildError:
        return BuildError(self.name, hook, self.source, f"returned {result!r}, not {wanted}")

    def requires_for_editable(self) -> list[str]:
        hook = "get_requires_for_build_editable"
        with self._hook(hook):
            requires = self._caller.get_requires_for_build_editable()
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            raise self._wrong(hook, requires, "a list of requirement strings")
        return requires

    def build_editable(self, out: Path) -> Path:
        hook = "build_editable"
        with self._hook(hook):
            name = self._caller.build_editable(str(out))
        if not isinstance(name, str) or not name.endswith(".whl") or not (out / name).is_file():
            raise self._wrong(hook, name, f"the name of a wheel it wrote in {out}")
        return out / name
