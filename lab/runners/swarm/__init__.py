"""Runners as Docker Swarm jobs, driven through the Docker SDK, across the nodes of a swarm.

Each runner is one ``replicated-job`` service of one task, placed on a node in turn (runner k
on node k mod N, so N nodes share the runners evenly), or where the scenario's
``runners_per_node`` says (the nodes filled in turn). One service per runner, not one for
the run: each runner has its own checkout, TMPDIR and HOME, and the one way to tell a task
its own mounts is a template on ``{{.Task.Slot}}``, which swarm 20.10 leaves empty on some
replicated-job tasks (seen here: "invalid mount config", then retries). The task gets the
lockdown a swarm allows: an ordinary uid, no capabilities, no network at all (no network is
attached, and the nodes have no bridge), the wheelhouse and the lab's programs read-only.

A task's output reaches the lab through the service's logs, late and in batches. So every
line is stamped inside the task by ``stamp.py``, and the node's clock is measured against
the lab's before and after the command, through a directory shared like the cache
(``ClockServer``); the lab places each stamp on its own clocks with that error bound, which
the checker widens every lock span by. Services, and their task containers, carry the run's
labels: leaving the session removes them, and a session that starts removes those of
orchestrators that died.

The swarm is the local test swarm that ``cachelab swarm up`` formed (``testswarm``), or
else the swarm whose manager ``DOCKER_HOST`` names. On a real swarm the run directory (the
checkouts, the cache, the clock directory) must be at the same path on every node, on a
shared file system, or the cache on a volume of its own (``CacheVolume``: an NFS export, say,
through the local volume driver): see docs/scale-out.md.

The rooms: ``backend`` (the backend: finding the nodes, checking their images), ``session``
(a run's services, their mounts and removal), ``tasks`` (one runner's task, its log and its
end), ``clock`` (a node's clock, measured), ``stamp`` (the stamper that runs in each task),
``testswarm`` and ``engines`` (a local test swarm of engines the lab starts itself).
"""

from lab.runners.swarm.backend import SwarmBackend
from lab.runners.swarm.session import CacheVolume

__all__ = ["CacheVolume", "SwarmBackend"]
