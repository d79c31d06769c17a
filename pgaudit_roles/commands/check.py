"""``pgaudit-roles check SNAPSHOT``: evaluate the rules offline and report, like ``scan``.

No server is needed: the snapshot file holds everything. It shares ``scan``'s body
(configuration, waivers, baseline, reports, exit code), so a snapshot checked later gives
the same result and the same files as the live scan that could have produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..collect.snapshot import load
from ..core.errors import UsageError
from ._shared import Offline, report_options, run


@click.command("check")
@click.argument("snapshot", required=False, type=click.Path(dir_okay=False, path_type=Path))
@report_options
def check(snapshot: Path | None, **opts: Any) -> None:
    """Evaluate the rules against SNAPSHOT (from `pgaudit-roles collect` or
    `scan --snapshot-out`), offline, and write the same reports as `scan`."""

    def read(progress: Any) -> Any:
        if snapshot is None:
            raise UsageError(
                "missing argument SNAPSHOT (a file written by `pgaudit-roles collect`)"
            )
        progress(f"reading {snapshot}")
        return load(snapshot)

    # offline: reading the file is quick, nothing to overlap the evaluation's start with
    run(
        opts,
        {},
        lambda _cfg, progress: Offline(lambda: read(progress)),
        label=str(snapshot),
        source=str(snapshot) if snapshot is not None else None,
    )
