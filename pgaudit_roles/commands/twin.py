"""``pgaudit-roles twin SNAPSHOT -o OUT``: rebuild a snapshot in a throwaway PostgreSQL.

The twin is collected with the normal collector and written as a snapshot (so ``check``
and ``diff`` of source and twin can be compared), or, with ``--serve``, kept running for
experiments until Ctrl-C. What a throwaway server cannot reproduce (pg_hba, server
settings, activity, password types, missing extensions) is carried over from the source
and listed under ``meta.twin`` in the written snapshot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..collect.snapshot import load, save
from ..core.errors import UsageError
from ..demo import choose_install
from ..twin import build_twin


@click.command("twin")
@click.argument("snapshot", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the twin's snapshot here (JSON, .gz or .tar archive).",
)
@click.option(
    "--database",
    "-d",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Fill in only this database (repeatable; the others are created empty "
    "and marked outside the twin's scope).",
)
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    metavar="NAME",
    help="Fill in only this schema in each database (repeatable).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Keep the twin running and print its DSN; Ctrl-C stops and removes it.",
)
@click.option(
    "--pg-bin",
    type=click.Path(file_okay=False, path_type=Path),
    help="PostgreSQL bin directory (default: the embedded server the demo uses).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def twin(
    snapshot: Path,
    output: Path | None,
    databases: tuple[str, ...],
    schemas: tuple[str, ...],
    serve: bool,
    pg_bin: Path | None,
    quiet: bool,
) -> None:
    """Rebuild SNAPSHOT's roles, memberships, objects (as stubs), ACLs, default privileges
    and settings in a throwaway PostgreSQL, collect it, and write the twin's snapshot.

    No password is ever set on the twin; it listens only on a private unix socket and
    127.0.0.1, and is stopped and removed when the command ends.
    """

    if output is None and not serve:
        raise UsageError("give --output FILE (the twin's snapshot) or --serve")

    def progress(msg: str) -> None:
        if not quiet:
            click.echo(f"pgaudit-roles: {msg}", err=True)

    source = load(snapshot)
    install = choose_install(pg_bin)
    progress(f"building the twin of {snapshot} on PostgreSQL {install.version}")
    with build_twin(
        source,
        install=install,
        databases=list(databases) or None,
        schemas=list(schemas) or None,
        progress=progress,
    ) as tw:
        progress(
            f"built in {tw.build_seconds:.1f} s; {len(tw.failures)} statement(s) not "
            "reproduced (carried over from the source)"
        )
        if output is not None:
            snap = tw.collect()
            save(snap, output)
            progress(f"twin snapshot written to {output}")
        if serve:
            click.echo(f"twin running: psql {_shell_quote(tw.conninfo())}")
            click.echo("press Ctrl-C to stop and remove it")
            sys.stdout.flush()
            try:
                while True:
                    import time

                    time.sleep(3600)
            except KeyboardInterrupt:
                progress("stopping the twin")


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
