"""lint on real servers 13-18 where the twin or a snapshot is used: the twin's own
database ACL is not blamed on the migrations, one branch of a psql \\if block is applied,
and DROP POLICY is judged against production's policies from a snapshot.

One empty cluster per version for the module (the twin must start empty, as in
tests/test_lint_twin.py); each lint uses database names of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import VERSIONS, install_for  # noqa: E402

from pgaudit_roles.collect.collector import collect  # noqa: E402
from pgaudit_roles.collect.snapshot import save  # noqa: E402
from pgaudit_roles.config import Config  # noqa: E402
from pgaudit_roles.evaluate.rules import load_rules  # noqa: E402
from pgaudit_roles.lint.run import LintOptions, lint  # noqa: E402

RULES = load_rules()


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def cluster(request: pytest.FixtureRequest) -> Iterator[object]:
    from pgaudit_roles.core.localpg import LocalCluster

    c = LocalCluster(install_for(request.param)).start()
    try:
        yield c
    finally:
        c.stop()


def _write(root: Path, name: str, text: str) -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def test_twin_database_default_acl_is_not_the_migrations(cluster, tmp_path: Path) -> None:
    """PUBLIC's built-in CONNECT on the database the twin made is pre-existing, not a
    finding at the first statement; a database the migrations create is theirs."""
    _write(
        tmp_path,
        "m/V1__app.sql",
        "CREATE ROLE db_owner_gapshop NOLOGIN;\n"
        "CREATE SCHEMA app_data AUTHORIZATION db_owner_gapshop;\n"
        "CREATE TABLE app_data.orders (id int);\n"
        "ALTER TABLE app_data.orders OWNER TO db_owner_gapshop;\n"
        "ALTER DATABASE postgres SET password_encryption = 'md5';\n",  # 5: changes a database
    )
    _write(
        tmp_path,
        "m/V2__reports.sql",
        "CREATE DATABASE gap_reports;\n"
        "\\connect gap_reports\n"
        "CREATE SCHEMA app_data AUTHORIZATION db_owner_gapshop;\n",
    )
    result = lint(
        LintOptions(paths=[tmp_path / "m"], database="gap_shop", cluster=cluster, root=tmp_path),
        RULES,
        Config(),
    )
    priv4 = [f for f in result.findings if f.rule_id == "PGR-PRIV-004"]
    shop = [f for f in priv4 if f.object_name == "gap_shop"]
    assert shop and all(f.pre_existing and f.file is None and not f.gating for f in shop)
    assert "the twin's own database" in shop[0].details["twin_default"]
    reports = [f for f in priv4 if f.object_name == "gap_reports"]
    assert [(f.file, f.pre_existing) for f in reports] == [("m/V2__reports.sql", False)]
    setting = [f for f in result.findings if f.rule_id == "PGR-ROLE-010" and f.file]
    assert [(f.file, f.line, f.object_type, f.database) for f in setting] == [
        ("m/V1__app.sql", 5, "database", "postgres")
    ]


def test_twin_applies_one_branch_of_an_if_block(cluster, tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "roles.sql",
        "\\set ON_ERROR_STOP on\n"
        "SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_gapif') AS missing \\gset\n"
        "\\if :missing\n"
        "CREATE ROLE app_gapif LOGIN;\n"  # 4
        "\\else\n"
        "CREATE ROLE app_gapif LOGIN CONNECTION LIMIT 5;\n"  # 6: would fail after line 4
        "\\endif\n",
    )
    result = lint(
        LintOptions(paths=[f], database="gap_if", cluster=cluster, root=tmp_path),
        RULES,
        Config(),
    )
    assert not [x for x in result.findings if x.rule_id == "PGR-LINT-015"]
    notes = result.meta["lint"]["notes"]
    assert any(n.startswith("roles.sql:6: not applied on the twin") for n in notes), notes
    limit = [x for x in result.findings if x.rule_id == "PGR-ROLE-006" and x.role == "app_gapif"]
    assert [x.line for x in limit] == [4]
    assert "'if :missing' branch at line 3" in limit[0].details["conditional"]
    assert "(conditional: only when" in limit[0].message


def test_drop_policy_against_a_snapshot(cluster, tmp_path: Path) -> None:
    """With --snapshot, production's policies say what a DROP POLICY does."""
    import psycopg

    db = "gap_rls"
    with psycopg.connect(cluster.conninfo(dbname="postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
        conn.execute("CREATE ROLE gap_rls_app LOGIN")
    with psycopg.connect(cluster.conninfo(dbname=db), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE orders (tenant int, archived bool);"
            "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"
            "CREATE POLICY tenant_rows ON orders USING (tenant = 1);"
            "CREATE POLICY hide_archived ON orders AS RESTRICTIVE FOR SELECT TO gap_rls_app "
            "USING (NOT archived);"
        )
    snap = tmp_path / "prod.json.gz"
    save(collect(cluster.conninfo(dbname=db), databases=[db]), snap)
    f = _write(
        tmp_path,
        "V3__drops.sql",
        "DROP POLICY hide_archived ON orders;\n"  # restrictive in production: widens
        "DROP POLICY IF EXISTS never_there ON orders;\n"  # production has no such policy
        "DROP POLICY tenant_rows ON public.orders;\n"  # the last permissive one
        "DROP POLICY legacy ON invoices;\n",  # not in the snapshot: unknown
    )
    result = lint(
        LintOptions(paths=[f], database=db, twin=False, snapshot=snap, root=tmp_path),
        RULES,
        Config(),
    )
    hits = {x.line: x for x in result.findings if x.rule_id == "PGR-LINT-016"}
    assert sorted(hits) == [1, 3, 4]
    assert hits[1].details["effect"] == "restrictive"
    assert f"(SELECT for gap_rls_app, in the snapshot (database {db}))" in hits[1].message
    assert hits[3].details["effect"] == "last_permissive"
    assert hits[4].details["effect"] == "unknown" and "not in the snapshot" in hits[4].message
