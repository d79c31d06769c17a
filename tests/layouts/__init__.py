"""Shared test layouts: the fixture layout and the auditing role, for every test module.

Usage (from any test module in tests/)::

    from layouts import apply_fixture_layout, make_auditor, FX

    def test_something(pg, fresh_db):
        apply_fixture_layout(pg, fresh_db)
        conninfo = make_auditor(pg, pg.unique("auditor"))

Roles are cluster-wide and the session server is shared by all test modules, so the
roles section of fixture_layout.sql runs once per server (guarded by a marker role, in
one transaction); the database section runs once per database you pass. A database the
auditor may not enter (``FX.noconnect_db``) and one with a hostile name
(``FX.hostile_db``) are created once per server too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYOUT_SQL = Path(__file__).with_name("fixture_layout.sql")
_SECTION = re.compile(r"^-- @section (roles|database)(?: pg(>=|<)(\d+))?\s*$")


@dataclass(frozen=True)
class _Names:
    """Names the layout creates, for assertions."""

    owner: str = "db_owner_app"
    writer: str = "db_writer_app"
    reader: str = "db_reader_app"
    deploy: str = "deploy_app"
    app: str = "app_user"
    analyst: str = "analyst_jane"
    monitoring: str = "monitoring_agent"
    noinherit: str = "fx_noinherit"
    inherit_false: str = "fx_inherit_false"
    set_false: str = "fx_set_false"
    admin: str = "fx_admin"
    superuser_app: str = "fx_superuser_app"
    expiring: str = "fx_expiring"
    md5: str = "fx_md5"
    scram: str = "fx_scram"
    hostile_role: str = "fx \"q'uote <script>alert(1)</script>\nnaïve \u2603"
    hostile_schema: str = "fx sch\"ema'\n<script>x</script> \u00fc"
    hostile_table: str = "tab le\"'\n<img src=x onerror=alert(1)> \u2603"
    hostile_column: str = "col \"umn'\n \u00fc"
    hostile_function: str = "fn\"'\n<b>"
    noconnect_db: str = "fx_noconnect"
    hostile_db: str = "fx db \"q'uote\n<script> \u00fc"
    app_schema: str = "app_data"
    misc_schema: str = "fx_misc"

    @property
    def login_roles(self) -> tuple[str, ...]:
        return (
            self.deploy,
            self.app,
            self.analyst,
            self.monitoring,
            self.noinherit,
            self.inherit_false,
            self.set_false,
            self.admin,
            self.superuser_app,
            self.expiring,
            self.md5,
            self.scram,
            self.hostile_role,
        )


FX = _Names()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def layout_sections(major: int) -> dict[str, str]:
    """The SQL of each section ("roles", "database") that applies to ``major``."""
    out: dict[str, list[str]] = {"roles": [], "database": []}
    current: list[str] | None = None
    for line in LAYOUT_SQL.read_text(encoding="utf-8").splitlines():
        m = _SECTION.match(line)
        if m:
            kind, op, ver = m.groups()
            applies = (
                op is None or (op == ">=" and major >= int(ver)) or (op == "<" and major < int(ver))
            )
            current = out[kind] if applies else None
            continue
        if current is not None:
            current.append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def _role_exists(pg: Any, name: str) -> bool:
    return bool(pg.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (name,)))


def _db_exists(pg: Any, name: str) -> bool:
    return bool(pg.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)))


def ensure_cluster_layout(pg: Any) -> None:
    """Roles, memberships, parameter ACLs and the two special databases, once per server."""
    if not _role_exists(pg, FX.owner):
        pg.execute("BEGIN;\n" + layout_sections(pg.major)["roles"] + "\nCOMMIT;")
    if not _db_exists(pg, FX.noconnect_db):
        pg.create_database(FX.noconnect_db)
        pg.execute(f"REVOKE CONNECT ON DATABASE {quote_ident(FX.noconnect_db)} FROM PUBLIC")
    if not _db_exists(pg, FX.hostile_db):
        pg.create_database(FX.hostile_db)


def apply_fixture_layout(pg: Any, dbname: str) -> None:
    """Build the fixture layout in ``dbname`` (cluster part once per server). Idempotent:
    a database that already has the app_data schema is left as it is."""
    ensure_cluster_layout(pg)
    if pg.query(
        "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (FX.app_schema,), dbname=dbname
    ):
        return
    sql = layout_sections(pg.major)["database"].replace(':"db"', quote_ident(dbname))
    pg.execute("BEGIN;\n" + sql + "\nCOMMIT;", dbname=dbname)


def make_auditor(
    pg: Any,
    name: str,
    hba: bool = True,
    *,
    password_check: bool = False,
    password: str | None = None,
) -> str:
    """A login role in pg_monitor (plus, with ``hba``, the bootstrap grants; with
    ``password_check``, the helper function in database postgres). Returns its conninfo:
    the unix socket (trust), or TCP with ``password`` when one is given. The password is
    set as a SCRAM verifier computed client-side, so it never reaches the server log.
    Idempotent for an existing role of that name (returns its conninfo).
    """
    from pgaudit_roles.collect.bootstrap import bootstrap_sql, password_check_sql

    if not _role_exists(pg, name):
        if hba:
            # CONNECT stays as each test sets it (some check a database without it)
            sql = bootstrap_sql(name, with_password_check=password_check, connect_grants=False)
        else:
            q = quote_ident(name)
            sql = f"BEGIN;\nCREATE ROLE {q} LOGIN;\nGRANT pg_monitor TO {q};\n"
            if password_check:
                sql += password_check_sql(name) + "\n"
            sql += "COMMIT;\n"
        pg.execute(sql)
        if password is not None:
            _set_password(pg, name, password)
    if password is not None:
        return pg.cluster.tcp_conninfo(name, password)
    return pg.conninfo(name)


def _set_password(pg: Any, name: str, password: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(
            password.encode(), name.encode(), b"scram-sha-256"
        ).decode()
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(verifier))
        )
