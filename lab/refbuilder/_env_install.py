"""Installing a build env's wheels with ``installer``, shared out among forks of the builder.

Every runner that needs an env waits while it is made, and most of that is compiling byte
code. Where the wheels cost enough, they are shared out, about evenly by cost, among up to
``_WORKERS`` forks of the builder, which have ``installer`` imported already (a new
interpreter would import it all again). A wheel's cost counts every file it writes, since a
file system may make new files slowly, and, where the env's byte code is compiled (the env's
interpreter is the builder's), its Python. A fork dies with the builder, runs nothing else
of the builder's, and tells why it failed through a pipe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from installer import install as install_wheel
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from lab.refbuilder._children import die_with_parent
from lab.refbuilder._errors import CacheError
from lab.refbuilder._resolve import Wheel
from lab.refbuilder._venvs import Interpreter

# Wheels are installed (and their byte code compiled) on up to this many processes, where
# installing them costs this much: a fork costs less than a tenth of that.
_WORKERS = min(len(os.sched_getaffinity(0)), 4)
_IN_PARALLEL_FROM = 512 * 1024
# What writing one file costs, in bytes of Python compiled in the same time: a file system
# that makes new files slowly (this project's machine's ext4, up to a millisecond a file for
# a while after many deletions) makes a wheel of many small modules cost more than its bytes.
_FILE_COST = 4 * 1024


def install(
    wheels: Sequence[Wheel],
    path: Path,
    python: Path,
    interpreter: Interpreter,
    struck: Callable[[], None],
) -> None:
    """Install ``wheels`` into the venv at ``path`` with ``installer``, their scripts
    running ``python`` (the env's final place), and compile their byte code where the
    builder's interpreter makes the env's: every runner that needs the env waits for it.
    Many wheels are shared out among forks of the builder, which have all they need
    imported already (a new interpreter would import it all again). ``struck`` runs once the
    first wheel is in, the env half made (or at the end, where there is none)."""
    compiled = interpreter.cache_tag == sys.implementation.cache_tag
    shares = _shares(wheels, _WORKERS, compiled)

    def install_share(share: Sequence[Wheel], first_in: Callable[[], None]) -> None:
        for wheel in share:
            _install_one(wheel, path, python, interpreter, compiled)
            if wheel is share[0]:
                first_in()

    mine, forks = shares[:1], []
    for share in shares[1:]:
        try:
            forks.append(_fork(functools.partial(install_share, share, lambda: None)))
        except OSError:  # e.g. the system's limit on processes: installed here instead
            mine.append(share)
    failed = []
    try:
        for share in mine:
            install_share(share, struck)
    except CacheError as exc:
        failed.append(str(exc))
    finally:
        failed += [why for why in (_joined(*fork) for fork in forks) if why is not None]
    if failed:
        raise CacheError(f"creating the build env {path} failed: {failed[0]}")
    if not wheels:
        struck()


def _cost(wheel: Wheel, compiled: bool) -> int:
    """What installing ``wheel`` costs, in bytes of Python compiled: every file it writes,
    and (``compiled``) its Python, compiling which is the most of the work, and the byte
    code written for it."""
    try:
        with zipfile.ZipFile(wheel.path) as archive:
            members = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile):
        return 0  # installing it says what is wrong with it
    cost = _FILE_COST * len(members)
    if compiled:
        python = [i for i in members if i.filename.endswith(".py")]
        cost += sum(i.file_size for i in python) + _FILE_COST * len(python)
    return cost


def _shares(wheels: Sequence[Wheel], workers: int, compiled: bool) -> list[list[Wheel]]:
    """``wheels`` shared out among at most ``workers`` processes, about evenly by cost: the
    costliest first, each to the least loaded. One share where they cost too little."""
    costs = sorted(((_cost(w, compiled), w) for w in wheels), key=lambda cw: -cw[0])
    if sum(cost for cost, _ in costs) < _IN_PARALLEL_FROM:
        workers = 1
    shares: list[list[Wheel]] = [[] for _ in range(max(min(workers, len(wheels)), 1))]
    loads = [0] * len(shares)
    for cost, wheel in costs:
        least = loads.index(min(loads))
        shares[least].append(wheel)
        loads[least] += cost
    return shares


def _install_one(
    wheel: Wheel, path: Path, python: Path, interpreter: Interpreter, compiled: bool
) -> None:
    destination = SchemeDictionaryDestination(
        interpreter.scheme(path, wheel.name),
        interpreter=str(python),
        script_kind="posix",
        bytecode_optimization_levels=(0,) if compiled else (),
        overwrite_existing=True,
    )
    try:
        # a module that does not compile (a vendored Python 2 test, say) stays without byte
        # code, and compileall says so on stdout, which carries the builder's result
        with WheelFile.open(wheel.path) as source, contextlib.redirect_stdout(sys.stderr):
            install_wheel(source, destination, {"INSTALLER": b"cachelab\n"})
    except Exception as exc:  # installer raises several kinds; each means the same here
        raise CacheError(f"installing {wheel.path}: {exc}") from exc


def _fork(work: Callable[[], None]) -> tuple[int, int]:
    """Run ``work`` in a fork of the builder that dies with it; its pid, and the end of a
    pipe that says why it failed. The fork runs nothing else of the builder's (none of its
    threads, no cleanup), and leaves as soon as its output is flushed."""
    said, tell = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # or the fork would write what is buffered again
        stream.flush()
    try:
        pid = os.fork()
    except OSError:
        os.close(said)
        os.close(tell)
        raise
    if pid == 0:
        code = 1
        try:
            os.close(said)
            die_with_parent()
            work()
            code = 0
        except BaseException as exc:
            os.write(tell, str(exc).encode(errors="replace"))
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    os.close(tell)
    return pid, said


def _joined(pid: int, said: int) -> str | None:
    """Wait for the fork ``pid``: None where it did its work, else why not."""
    with os.fdopen(said, "rb") as pipe:
        why = pipe.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code == 0:
        return None
    return why or f"a fork of the builder exited {code}"
