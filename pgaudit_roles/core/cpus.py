"""Whether this run may use a second core for itself."""

from __future__ import annotations

import os


def spare_cpu() -> bool:
    """Whether a second core is likely idle: the 1-minute load average is below the CPUs
    this process may use minus one half (below 1.5 on two).

    Why: the audit-schema load on two connections (``audit.load_schedule``) and the
    collection in a child process (``collect.forked``) shorten a run when a core is free;
    on a busy host (the database server itself, a CI runner with a job per core) the
    second thread or process only competes for a core and costs the switching (about 5%
    more CPU), so the run then stays on one, as ``make -l`` would."""
    try:
        cpus = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no affinity or load average on this platform
        return (os.cpu_count() or 1) >= 2
    return cpus >= 2 and load < cpus - 0.5
