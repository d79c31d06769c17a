"""``pgaudit-roles collect``: read a cluster into a snapshot file, nothing else.

Kept separate from ``scan`` so a snapshot can be taken where the server is reachable and
evaluated elsewhere (``check``), and so a restore test can ``diff`` two snapshots.
"""

from __future__ import annotations

import sys

import click

from ..collect.collector import collect as run_collect
from ..collect.connect import ConnectSettings
from ..collect.snapshot import Snapshot, save
from ..core.errors import UsageError
from ..reports.common import printable


@click.command("collect")
@click.argument("dsn", required=False, default="")
@click.option(
    "--all-databases",
    is_flag=True,
    help="Read every database the role may connect to (the default).",
)
@click.option(
    "--database",
    "-d",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Read only this database (repeatable). Roles and other cluster-wide data are always read.",
)
@click.option(
    "--hba-file",
    metavar="PATH",
    help="pg_hba.conf to parse when the pg_hba_file_rules view is not readable "
    "by the auditing role.",
)
@click.option(
    "--statement-timeout",
    default="60s",
    show_default=True,
    metavar="DURATION",
    help="Per-statement limit on the server (PostgreSQL duration).",
)
@click.option(
    "--lock-timeout",
    default="2s",
    show_default=True,
    metavar="DURATION",
    help="Never queue behind DDL longer than this.",
)
@click.option(
    "--idle-timeout",
    default="5min",
    show_default=True,
    metavar="DURATION",
    help="idle_in_transaction_session_timeout for the tool's sessions.",
)
@click.option(
    "--connect-timeout",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Give up connecting after this long.",
)
@click.option(
    "--jobs",
    "-j",
    default=2,
    show_default=True,
    type=click.IntRange(1, 32),
    metavar="N",
    help="Databases read at once, one connection each.",
)
@click.option(
    "--output",
    "-o",
    required=True,
    metavar="FILE",
    help="Snapshot file to write: .json, .json.gz (gzip), or .tar (columnar "
    "archive of Parquet files, for large clusters). Written atomically: on "
    "failure no file is left behind.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary on stderr.")
def collect(
    dsn: str,
    all_databases: bool,
    databases: tuple[str, ...],
    hba_file: str | None,
    statement_timeout: str,
    lock_timeout: str,
    idle_timeout: str,
    connect_timeout: int,
    jobs: int,
    output: str,
    quiet: bool,
) -> None:
    """Collect a snapshot of roles, privileges, default privileges and pg_hba rules.

    DSN is a libpq connection string or URI; anything it leaves out comes from the PG*
    environment variables, the service file and the password file, as with psql. Every
    session is read-only with bounded timeouts; each database is read in one REPEATABLE
    READ READ ONLY transaction. Needs a role in pg_monitor, never a superuser (see
    `pgaudit-roles bootstrap-sql`). Exit 3 when the server cannot be reached or read,
    2 on bad options.
    """

    if all_databases and databases:
        raise UsageError("use either --all-databases or --database, not both")
    settings = ConnectSettings(
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        idle_in_transaction_session_timeout=idle_timeout,
        connect_timeout=connect_timeout,
    )
    show_progress = not quiet and sys.stderr.isatty()

    def progress(msg: str) -> None:
        if show_progress:
            click.echo(f"pgaudit-roles: {printable(msg)}", err=True)

    snap = run_collect(
        dsn,
        databases=list(databases) or None,
        all_databases=True,
        hba_file=hba_file,
        settings=settings,
        progress=progress,
        jobs=jobs,
    )
    try:
        save(snap, output)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    if not quiet:
        click.echo(summary_line(snap, output), err=True)


def summary_line(snap: object, output: str) -> str:
    """One line: what was read, what was not, where it went."""
    assert isinstance(snap, Snapshot)
    meta = snap.meta
    dbs = snap.databases
    done = sum(1 for d in dbs if d.status == "collected")
    objects = sum(len(d.table("objects")) for d in dbs)
    acl = sum(len(d.table("acl")) for d in dbs)
    missing = [name for name, src in meta.get("sources", {}).items() if not src.get("collected")]
    target = meta.get("target", {})
    parts = [
        f"pgaudit-roles: wrote {output}:",
        f"PostgreSQL {meta.get('server_version')} at {target.get('host')}:{target.get('port')}"
        f" as {meta.get('connected_user')},",
        f"{len(snap.table('roles').rows)} roles,",
        f"{done}/{len(dbs)} databases,",
        f"{objects} objects, {acl} ACL entries",
    ]
    line = " ".join(parts)
    if done < len(dbs):
        line += (
            f"; not collected: {', '.join(repr(d.name) for d in dbs if d.status != 'collected')}"
        )
    if missing:
        line += f"; sources not collected: {', '.join(missing)}"
    return line + f" ({meta.get('duration_seconds')}s)"
