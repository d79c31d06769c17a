"""The remediation script keeps a former owner's privileges (layout QA, PostgreSQL 13-18).

A real team's layout: the writer group role owns a table (a migration ran as it). PGR-OWN-001
moves the table to the owner role and grants the writer the DML it needs. ALTER ... OWNER TO
rewrites the ACL (the old owner's entries become the new owner's), so a grant to the old
owner that ran first was carried away and the application lost access to its own table.
Scanned with the real CLI, the database's part of the script applied with psql.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_support import run_cli
from fixrescan_support import psql_binary

from pgaudit_roles.reports.sql_script import psql_connect


def _section(script: str, db: str) -> str:
    """The statements the script runs in database ``db`` (its transaction)."""
    lines = script.splitlines()
    start = lines.index(psql_connect(db))
    end = lines.index("COMMIT;", start)
    return "\n".join(["\\set ON_ERROR_STOP on", *lines[start + 1 : end + 1]]) + "\n"


@pytest.mark.pg
def test_writer_keeps_dml_on_the_table_it_owned(pg, tmp_path: Path, capsys) -> None:
    u = pg.unique("fo")
    owner, writer, app = f"db_owner_{u}", f"db_writer_{u}", f"app_{u}"
    db = pg.create_database()
    pg.execute(
        f"CREATE ROLE {owner} NOLOGIN; CREATE ROLE {writer} NOLOGIN;"
        f"CREATE ROLE {app} LOGIN CONNECTION LIMIT 5; GRANT {writer} TO {app};"
    )
    try:
        pg.execute(
            f"CREATE SCHEMA crm AUTHORIZATION {owner}; GRANT USAGE ON SCHEMA crm TO {writer};"
            f"CREATE TABLE crm.deals (id int); ALTER TABLE crm.deals OWNER TO {writer};",
            dbname=db,
        )
        out = tmp_path / "r"
        code, _o, err = run_cli(
            ["scan", pg.conninfo(dbname=db), "-d", db, "--format", "sql,json", "--no-verify"]
            + ["--output-dir", str(out), "--fail-on", "none", "-q"],
            capsys,
        )
        assert code == 0, err
        part = _section((out / "pgaudit-report.sql").read_text(encoding="utf-8"), db)
        stmts = part.splitlines()
        move = f"ALTER TABLE crm.deals OWNER TO {owner};"
        assert move in stmts
        writer_grants = [
            s for s in stmts if s.startswith("GRANT ") and s.endswith(f" TO {writer};")
        ]
        assert any("crm.deals" in s for s in writer_grants), part
        assert all(stmts.index(s) > stmts.index(move) for s in writer_grants), part

        path = tmp_path / "fix.sql"
        path.write_text(part, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        res = subprocess.run(
            [
                psql_binary(pg.cluster.install),
                "-X",
                "-q",
                "-f",
                str(path),
                "-d",
                pg.conninfo(dbname=db),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert res.returncode == 0, res.stderr
        ((new_owner, can_insert, can_select),) = pg.query(
            "SELECT c.relowner::regrole::text, has_table_privilege(%s, c.oid, 'INSERT'),"
            " has_table_privilege(%s, c.oid, 'SELECT') FROM pg_class c WHERE c.oid = 'crm.deals'::regclass",
            (app, app),
            dbname=db,
        )
        assert new_owner == owner
        assert can_insert and can_select  # the application still writes its table
    finally:
        pg.drop_database(db)
        pg.execute(f"DROP ROLE IF EXISTS {app}, {writer}, {owner};")
