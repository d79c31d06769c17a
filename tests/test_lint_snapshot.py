"""``lint --snapshot``: the migrations run against the twin of a collected snapshot.

The source is the shared ``pg`` server (a fresh database and two roles of this test); the
only cluster this module starts is the twin that ``lint`` builds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pgaudit_roles.config import Config
from pgaudit_roles.evaluate.rules import load_rules
from pgaudit_roles.lint.run import LintOptions, lint

TWIN_AVAILABLE = importlib.util.find_spec("pgaudit_roles.twin") is not None


@pytest.mark.skipif(not TWIN_AVAILABLE, reason="pgaudit_roles.twin is not in this build yet")
def test_migrations_run_against_the_snapshot_roles(pg, fresh_db: str, tmp_path: Path) -> None:
    from pgaudit_roles.collect.collector import collect
    from pgaudit_roles.collect.snapshot import save
    from pgaudit_roles.core.localpg import find_installs

    app, writer = pg.unique("app_snap"), pg.unique("db_writer_snap")
    pg.execute(f'CREATE ROLE "{app}" LOGIN CONNECTION LIMIT 5; CREATE ROLE "{writer}" NOLOGIN;')
    try:
        snap_path = tmp_path / "prod.json.gz"
        save(
            collect(
                pg.conninfo(dbname=fresh_db), databases=[fresh_db], all_databases=False, jobs=1
            ),
            snap_path,
        )
        mig = tmp_path / "V1__grant.sql"
        mig.write_text(
            f'GRANT "{writer}" TO "{app}";\nGRANT ALL ON SCHEMA public TO "{app}";\n',
            encoding="utf-8",
        )
        rules = load_rules()
        opts = LintOptions(
            paths=[mig],
            snapshot=snap_path,
            database=fresh_db,
            root=tmp_path,
            install=find_installs()[pg.major],
        )
        result = lint(opts, rules, Config())
        twin = result.meta["lint"]["twin"]
        assert twin["run"] and twin["twin"].startswith("twin of ")
        assert not [f for f in result.findings if f.rule_id == "PGR-LINT-015"]
        assert twin["applied"] == 2
        assert {
            (f.line, f.rule_id) for f in result.findings if f.details.get("layer") == "statement"
        } == {(2, "PGR-LINT-005"), (2, "PGR-LINT-006")}
    finally:
        pg.execute(f'DROP ROLE IF EXISTS "{app}"; DROP ROLE IF EXISTS "{writer}";')
