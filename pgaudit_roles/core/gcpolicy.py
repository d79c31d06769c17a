"""The garbage collector's settings while one command runs.

Why: a run allocates in bursts (snapshot rows, audit rows, findings, report text) and keeps
nearly all of it until it ends, so CPython's default young-generation threshold (700 new
container objects) starts collections that find almost nothing to free: a check of the
bench small snapshot ran 287 of them (2 of them full), which freed 3,416 objects and cost
~60 ms of its ~1.1 s of CPU. While a command runs, what importing created is frozen (never
traversed again; it lives as long as the process anyway) and a young collection runs every
:data:`YOUNG` allocations: 2 collections, ~16 ms. Cycles are still collected, so a long
run's memory stays bounded; the outputs do not depend on when garbage is freed.

The previous settings come back when the command returns: tests call the CLI in their own
process. A fleet target's child process (``fleet.worker``) is one scan and runs under the
same settings.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG = 50_000
"""New container objects between two young collections (CPython's default: 700)."""

OLDER = 20
"""Collections of a generation between two of the next older one (default: 10)."""


@contextlib.contextmanager
def for_one_command() -> Iterator[None]:
    """Freeze what exists, collect rarely; restore both on the way out.

    Nothing is frozen when something else already froze objects (an embedding program's
    freeze is its own to undo), or when the collector is disabled."""
    saved = gc.get_threshold()
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(YOUNG, OLDER, OLDER)
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        if freeze:
            gc.unfreeze()
