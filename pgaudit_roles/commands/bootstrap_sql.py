"""``pgaudit-roles bootstrap-sql``: print the auditing role's least-privilege setup."""

from __future__ import annotations

import click

from ..collect.bootstrap import bootstrap_sql as render


@click.command("bootstrap-sql")
@click.option(
    "--role",
    default="pgaudit_auditor",
    show_default=True,
    metavar="NAME",
    help="Name of the auditing login role (quoted as PostgreSQL's quote_ident).",
)
@click.option(
    "--with-password-check",
    is_flag=True,
    help="Also create a SECURITY DEFINER helper that reports each role's password "
    "hash type (md5, scram-sha-256, none), never the hash.",
)
@click.option(
    "--with-ident",
    is_flag=True,
    help="Also grant read access to pg_ident_file_mappings (PostgreSQL 15+).",
)
@click.option(
    "--no-create-role", is_flag=True, help="Leave out CREATE ROLE (the role exists already)."
)
@click.option(
    "--no-connect-grants",
    is_flag=True,
    help="Leave out the DO block that grants CONNECT on every current database.",
)
@click.option(
    "--scan-database",
    metavar="NAME",
    help="The database the scan connects to (its DSN's dbname): the script stops unless it "
    "runs there, where the pg_hba grants must be (they hold only in the database they are "
    "run in).",
)
def bootstrap_sql(
    role: str,
    with_password_check: bool,
    with_ident: bool,
    no_create_role: bool,
    no_connect_grants: bool,
    scan_database: str | None,
) -> None:
    """Print SQL that sets up a login role able to run `collect` without superuser:
    LOGIN, member of pg_monitor, SELECT on pg_hba_file_rules and EXECUTE on
    pg_hba_file_rules(), and CONNECT on every database that accepts connections (a
    commented DO block: the guide revokes CONNECT from PUBLIC). No password is printed:
    set it from your secrets manager. Run it in the database the scan connects to: the
    role, pg_monitor and CONNECT hold in every database, the pg_hba grants only in the
    database the script runs in.
    """
    click.echo(
        render(
            role,
            with_password_check=with_password_check,
            with_ident=with_ident,
            create_role=not no_create_role,
            connect_grants=not no_connect_grants,
            scan_database=scan_database,
        ),
        nl=False,
    )
