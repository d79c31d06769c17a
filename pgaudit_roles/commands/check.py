"""``pgaudit-roles check SNAPSHOT``: evaluate the rules offline and report, like ``scan``.

No server is needed: the snapshot file holds everything. It shares ``scan``'s body
(configuration, waivers, baseline, reports, exit code), so a snapshot checked later gives
the same result and the same files as the live scan that could have produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..collect import forked
from ..collect.snapshot import is_archive, load
from ..core.errors import UsageError
from ._shared import Offline, report_options, run


@click.command("check")
@click.argument("snapshot", required=False, type=click.Path(dir_okay=False, path_type=Path))
@report_options
def check(snapshot: Path | None, **opts: Any) -> None:
    """Evaluate the rules against SNAPSHOT (from `pgaudit-roles collect` or
    `scan --snapshot-out`), offline, and write the same reports as `scan`."""

    def get_snapshot(_cfg: Any, progress: Any) -> Any:
        if snapshot is None:
            raise UsageError(
                "missing argument SNAPSHOT (a file written by `pgaudit-roles collect`)"
            )

        def read(spool: Any = None) -> Any:
            progress(f"reading {snapshot}")
            return load(snapshot, spool)

        if is_archive(snapshot):
            # An archive's members go to files, and checking them imports DuckDB: read in
            # a forked child, as a live scan collects, while this process loads the rules
            # and prepares the evaluation. A JSON snapshot's rows would have to cross the
            # pipe (as much memory again): read here.
            return forked.start(read)
        return Offline(read)

    run(
        opts,
        {},
        get_snapshot,
        label=str(snapshot),
        source=str(snapshot) if snapshot is not None else None,
    )
