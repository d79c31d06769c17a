"""``pgaudit-roles scan``: collect, check and report in one run (cron, go-live gate, CI).

stdout carries either the human summary, or, with ``--output-dir -``, exactly one machine
format and nothing else; the summary then goes to stderr. Progress goes to stderr only
when it is a terminal and ``--quiet`` is not given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..collect.connect import describe_target
from ..collect.snapshot import save
from ..core.errors import UsageError
from ..pipeline import start_collection
from ._args import lock_timeout_option, statement_timeout_option
from ._shared import report_options, run


@click.command("scan")
@click.argument("dsn", required=False, default="")
@click.option(
    "--database",
    "-d",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Read only this database (repeatable; default: every database).",
)
@click.option(
    "--hba-file",
    metavar="PATH",
    help="pg_hba.conf to parse when pg_hba_file_rules is not readable.",
)
@statement_timeout_option
@lock_timeout_option
@click.option(
    "--connect-timeout",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Give up connecting after this long (default 10).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 32),
    metavar="N",
    help="Databases read at once, one connection each (default 2).",
)
@click.option(
    "--snapshot-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the collected snapshot (for check, diff and audit evidence).",
)
@report_options
def scan(
    dsn: str,
    databases: tuple[str, ...],
    hba_file: str | None,
    statement_timeout: str | None,
    lock_timeout: str | None,
    connect_timeout: int | None,
    jobs: int | None,
    snapshot_out: Path | None,
    **opts: Any,
) -> None:
    """Collect a snapshot of DSN, evaluate every rule, write reports, gate on severity.

    DSN follows libpq (connection string or URI; PG* variables, service file and passfile
    fill in the rest). The role needs pg_monitor plus the grants `bootstrap-sql` prints;
    never SUPERUSER. Nothing is written to the server.
    """
    overrides = {
        "collect.databases": list(databases) or None,
        "collect.hba_file": hba_file,
        "collect.statement_timeout": statement_timeout,
        "collect.lock_timeout": lock_timeout,
        "collect.connect_timeout": connect_timeout,
        "collect.jobs": jobs,
    }
    run(
        opts,
        overrides,
        lambda cfg, progress: _Collection(dsn, cfg, progress, snapshot_out),
        label=None,  # _Collection.label, from the process that collects
        source=dsn,
    )


def _label(dsn: str) -> str:
    try:
        return describe_target(dsn) or "(libpq defaults)"
    except Exception:  # a malformed DSN is reported by the collector with exit 3/2
        return "(target)"


class _Collection:
    """The live scan's snapshot for ``_shared.run``: the collection starts on entering the
    ``with`` (a forked child, ``pipeline.start_collection``), :meth:`finish` returns it,
    saved first when ``--snapshot-out`` asks."""

    def __init__(
        self, dsn: str, cfg: Any, progress: Callable[[str], None], snapshot_out: Path | None
    ) -> None:
        self.pending = start_collection(dsn, cfg, progress, also=functools.partial(_label, dsn))
        self.snapshot_out = snapshot_out

    @property
    def label(self) -> str:
        """The target as ``describe_target`` names it (computed where psycopg is loaded)."""
        return str(self.pending.also)

    def __enter__(self) -> _Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pending.cancel()

    def finish(self, meanwhile: Callable[[], None]) -> Any:
        snap = self.pending.finish(meanwhile)
        if self.snapshot_out is not None:
            try:
                save(snap, self.snapshot_out)
            except OSError as exc:
                raise UsageError(
                    f"cannot write --snapshot-out {self.snapshot_out}: {exc.strerror or exc}"
                ) from None
        return snap
