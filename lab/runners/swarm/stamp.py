"""Run a runner's command inside a swarm task and stamp every line where it is produced.

    python3 -I stamp.py CLOCK_DIR RUNNER -- ARGV...   (-I: nothing beside it is imported)

A swarm's service logs reach the lab late and in batches, so a time taken on arrival says
little. This wrapper writes every line of the command's stdout and stderr to its own stdout
as ``~stamp line <stream> <wall> <text>``, stamped by this node's wall clock. To put
those stamps on the lab's clocks, it measures the node's offset before and after the command
by an exchange through CLOCK_DIR, a directory the lab shares with every node (as the cache
is shared): it writes ``<RUNNER>.<phase>.ask``, the lab answers with ``.reply`` holding its
monotonic clock, and the round trip bounds the offset. Its last line says the exit code, so
the lab knows it has every line.

It runs under the runner image's Python with the standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

MARK = "~stamp"  # the first word of each of its lines; what it wraps follows
SKEW_ENV = "CACHELAB_CLOCK_SKEW_S"  # lab.contract.CLOCK_SKEW_ENV: this node's clock, made off
_EXCHANGE_TIMEOUT_S = 10.0
_POLL_S = 0.001
_DRAIN_S = 5.0  # after the command's exit, for its output still in the pipes


def _skew() -> float:
    try:
        return float(os.environ.get(SKEW_ENV) or 0)
    except ValueError:
        return 0.0


SKEW = _skew()
_out = threading.Lock()


def wall() -> float:
    return time.time() + SKEW


def say(*fields: object) -> None:
    with _out:
        sys.stdout.write(" ".join([MARK, *map(str, fields)]) + "\n")
        sys.stdout.flush()


def exchange(clock_dir: Path, runner: str, phase: str) -> None:
    """One round trip with the lab: ask at n1, its reply read at n2. A reply left by an
    earlier step's runner of the same name is removed first, and this one once read."""
    ask = clock_dir / f"{runner}.{phase}.ask"
    reply = clock_dir / f"{runner}.{phase}.reply"
    tmp = clock_dir / f".{runner}.{phase}.ask.tmp"
    reply.unlink(missing_ok=True)
    n1 = wall()
    tmp.write_text(f"{n1!r}\n")
    tmp.rename(ask)
    deadline = time.monotonic() + _EXCHANGE_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            answer = reply.read_text().split()
        except FileNotFoundError:
            time.sleep(_POLL_S)
            continue
        n2 = wall()
        if len(answer) == 1:
            reply.unlink(missing_ok=True)
            say("clock", phase, repr(n1), repr(n2), answer[0])
            return
        time.sleep(_POLL_S)  # written but not yet whole: the lab renames, so rarely
    say("clock", phase, "unknown")


def pump(source: IO[bytes], stream: str) -> None:
    for raw in iter(source.readline, b""):
        stamp = wall()
        text = raw.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
        say("line", stream, repr(stamp), text)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: stamp.py CLOCK_DIR RUNNER -- ARGV...\n")
        return 2
    clock_dir, runner, command = Path(argv[0]), argv[1], argv[3:]
    exchange(clock_dir, runner, "start")
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )

    def forward(signum: int, _frame: object) -> None:
        # PID 1 of the container: a stop reaches this process only; pass it on to the group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    assert child.stdout is not None and child.stderr is not None
    readers = [
        threading.Thread(target=pump, args=(child.stdout, "stdout"), daemon=True),
        threading.Thread(target=pump, args=(child.stderr, "stderr"), daemon=True),
    ]
    for reader in readers:
        reader.start()
    rc = child.wait()
    # what it left running (a daemon, a build server) ends with it, as in a container whose
    # first process exits; its readers then see the pipes close
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    for reader in readers:
        reader.join(timeout=_DRAIN_S)
    exchange(clock_dir, runner, "end")
    code = rc if rc >= 0 else 128 - rc
    say("exit", code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
