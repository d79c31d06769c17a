"""Whether this run may use a second core for itself."""

from __future__ import annotations

import os
import threading

from .errors import UsageError

ENV = "PGAUDIT_ROLES_SECOND_CORE"
"""``auto`` (the default): use a second core when :func:`spare_cpu` finds one idle;
``never``; ``always`` (on a machine with two or more CPUs). For a container, whose load
average is the host's and whose CPU count may exceed its quota, or a benchmark."""


def spare_cpu() -> bool:
    """Whether to use a second core: as :data:`ENV` says, by default when one is likely
    idle (the 1-minute load average below the CPUs this process may use minus one half,
    below 1.5 on two). Any other value is a usage error (exit 2).

    Why: the audit-schema load on two connections (``audit.load_schedule``) and the
    collection in a child process (``collect.forked``) shorten a run when a core is free;
    on a busy host (the database server itself, a CI runner with a job per core) the
    second thread or process only competes for a core and costs the switching (about 5%
    more CPU), so the run then stays on one, as ``make -l`` would."""
    mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "never", "always"):
        raise UsageError(f"{ENV}={os.environ[ENV]!r}: use auto, never or always")
    if mode == "never":
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this platform
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return False
    if mode == "always":
        return True
    try:
        return os.getloadavg()[0] < cpus - 0.5
    except (AttributeError, OSError):  # no load average on this platform
        return True


def may_fork() -> bool:
    """Whether to hand work to a forked child: a second core to use (:func:`spare_cpu`),
    ``os.fork``, and no other thread in this process (a fork copies the calling thread
    alone, and a lock another thread holds would stay locked in the child forever).

    ``collect.forked`` and ``reports.forked_render`` both ask here."""
    return hasattr(os, "fork") and threading.active_count() == 1 and spare_cpu()
