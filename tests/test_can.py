"""What "can" means in who-can and explain, proved on real servers 13-18: each standing
(can use, holds only, by SET ROLE, grant option kept, lo_compat, unknown) is checked by
logging in as the role and trying: has_table_privilege, an actual SELECT, SET ROLE, GRANT,
lo_get."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from audit_builds import built_once, close_all
from cli_support import cli_process, run_cli
from conftest import Server


def as_role(pg: Server, role: str, db: str, sql: str, *, rollback: bool = False) -> Any:
    """Run ``sql`` logged in as ``role``; the exception class name when PostgreSQL refuses.

    ``rollback``: in one transaction that is rolled back, so a GRANT the role makes to try
    it leaves the module's layout as it was."""
    try:
        with psycopg.connect(pg.conninfo(user=role, dbname=db), autocommit=not rollback) as conn:
            rows = None
            try:
                for stmt in sql.split(";"):
                    if stmt.strip():
                        cur = conn.execute(stmt)  # type: ignore[call-overload]
                        rows = cur.fetchall() if cur.description else rows
            finally:
                if rollback:
                    conn.rollback()
            return rows
    except psycopg.Error as exc:
        return type(exc).__name__


@pytest.fixture(scope="module")
def fresh_db(pg: Server) -> str:
    """The module's database (the layout drops it): one layout and one snapshot per
    version, read by every test; what a test tries as a role changes nothing."""
    return pg.create_database()


@pytest.fixture(scope="module")
def layout(pg: Server, fresh_db: str) -> Iterator[dict[str, str]]:
    p = pg.unique("can")
    r = {
        k: f"{p}_{k}"
        for k in ("nousage", "noconnect", "reader", "noinh", "inhfalse", "owner", "lo")
    }
    db = fresh_db
    pg.execute(f"""
        CREATE ROLE {r["nousage"]} LOGIN; CREATE ROLE {r["noconnect"]} LOGIN;
        CREATE ROLE {r["reader"]} NOLOGIN; CREATE ROLE {r["noinh"]} LOGIN NOINHERIT;
        CREATE ROLE {r["inhfalse"]} LOGIN; CREATE ROLE {r["owner"]} LOGIN; CREATE ROLE {r["lo"]} LOGIN;
        GRANT {r["reader"]} TO {r["noinh"]};
        REVOKE CONNECT ON DATABASE "{db}" FROM PUBLIC;
        GRANT CONNECT ON DATABASE "{db}" TO {r["nousage"]}, {r["reader"]}, {r["noinh"]}, {r["inhfalse"]},
              {r["owner"]}, {r["lo"]};
        ALTER DATABASE "{db}" SET lo_compat_privileges = on""")
    if pg.major >= 16:
        pg.execute(f"GRANT {r['reader']} TO {r['inhfalse']} WITH INHERIT FALSE")
    pg.execute(
        f"""
        CREATE SCHEMA hidden; CREATE TABLE hidden.t (x int); INSERT INTO hidden.t VALUES (1);
        GRANT SELECT ON hidden.t TO {r["nousage"]};
        CREATE SCHEMA open; GRANT USAGE ON SCHEMA open TO {r["reader"]}, {r["noconnect"]}, {r["owner"]};
        CREATE TABLE open.t2 (x int); INSERT INTO open.t2 VALUES (2);
        GRANT SELECT ON open.t2 TO {r["reader"]}, {r["noconnect"]};
        CREATE TABLE open.t3 (x int); ALTER TABLE open.t3 OWNER TO {r["owner"]};
        REVOKE ALL ON open.t3 FROM {r["owner"]};
        SELECT lo_from_bytea(424242, 'secret'::bytea)""",
        dbname=db,
    )
    yield r
    pg.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    for name in r.values():
        pg.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture(scope="module")
def snap(
    pg: Server, layout: dict[str, str], fresh_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    path = tmp_path_factory.mktemp(f"can{pg.major}") / "snap.json"
    res = cli_process(["collect", pg.conninfo(), "-d", fresh_db, "-o", str(path), "-q"])
    assert res.returncode == 0, res.stderr
    try:
        yield path
    finally:
        close_all(_BUILDS)


_BUILDS: dict[Any, Any] = {}
"""The audit schemas built for the module's snapshot (tests/audit_builds.py): the who-can
and explain runs of every test read its one file, and a build was most of each run's CPU;
closed with the snapshot (``snap``)."""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``run_cli`` on the module's snapshot, with the audit schema shared by the runs that
    ask for the same tables."""
    with built_once(_BUILDS):
        return run_cli(args, capsys)


def who_can(
    args: list[str], snap: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    code, out, err = run(
        ["who-can", *args, str(snap), "--database", db, "--format", "json"], capsys
    )
    assert code == 0, err
    data = json.loads(out)
    assert len(data) == 1
    return data[0]  # type: ignore[no-any-return]


def test_holds_only_without_schema_usage_or_connect(
    pg: Server,
    layout: dict[str, str],
    fresh_db: str,
    snap: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r, db = layout, fresh_db
    res = who_can(["SELECT", "ON", "hidden.t"], snap, db, capsys)
    h = {x["role"]: x for x in res["holders"]}
    assert h[r["nousage"]]["standing"] == "holds only"
    assert h[r["nousage"]]["blocked_by"] == ["USAGE on SCHEMA hidden"]
    # the server agrees: the ACL check passes, the SELECT does not
    oid = pg.query("SELECT 'hidden.t'::regclass::oid", dbname=db)[0][0]
    assert as_role(pg, r["nousage"], db, f"SELECT has_table_privilege({oid}, 'SELECT')") == [
        (True,)
    ]
    assert as_role(pg, r["nousage"], db, "SELECT * FROM hidden.t") == "InsufficientPrivilege"

    res = who_can(["SELECT", "ON", "open.t2"], snap, db, capsys)
    h = {x["role"]: x for x in res["holders"]}
    assert h[r["reader"]]["standing"] == "can use" and h[r["reader"]]["blocked_by"] == []
    assert h[r["noconnect"]]["standing"] == "holds only"
    assert h[r["noconnect"]]["blocked_by"] == [f"CONNECT on DATABASE {db}"]
    assert as_role(pg, r["noconnect"], db, "SELECT 1") == "OperationalError"  # cannot connect
    # text output says it too
    code, out, _err = run(["who-can", "SELECT", "ON", "hidden.t", str(snap), "-d", db], capsys)
    assert code == 0 and "(holds only: no USAGE on SCHEMA hidden)" in out


def test_set_role_only_is_listed_and_works_only_after_set_role(
    pg: Server,
    layout: dict[str, str],
    fresh_db: str,
    snap: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r, db = layout, fresh_db
    res = who_can(["SELECT", "ON", "open.t2"], snap, db, capsys)
    holders = {x["role"] for x in res["holders"]}
    by_set = {x["role"]: x for x in res["by_set_role"]}
    expect = [r["noinh"]] + ([r["inhfalse"]] if pg.major >= 16 else [])
    for role in expect:
        assert role not in holders and by_set[role]["set_role"] == r["reader"]
        assert by_set[role]["path"] == [role, r["reader"]]
        assert as_role(pg, role, db, "SELECT * FROM open.t2") == "InsufficientPrivilege"
        assert as_role(pg, role, db, f"SET ROLE {r['reader']}; SELECT * FROM open.t2") == [(2,)]
    assert set(by_set) == set(expect)
    code, out, _err = run(["explain", r["noinh"], str(snap)], capsys)
    assert code == 0 and "Can get by SET ROLE" in out and "open.t2" in out


def test_owner_keeps_grant_options_after_revoking_its_own_privilege(
    pg: Server,
    layout: dict[str, str],
    fresh_db: str,
    snap: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r, db = layout, fresh_db
    res = who_can(["SELECT", "ON", "open.t3"], snap, db, capsys)
    assert r["owner"] not in {x["role"] for x in res["holders"]}
    kept = {(x["role"], x["privilege"]) for x in res["grant_option_only"]}
    assert (r["owner"], "SELECT") in kept
    code, out, _err = run(["explain", r["owner"], str(snap), "--format", "json"], capsys)
    data = json.loads(out)
    assert {(p["identity"], p["privilege"]) for p in data["grant_option_only"]} >= {
        ("open.t3", "SELECT"),
        ("open.t3", "UPDATE"),
    }
    # the server agrees: no SELECT, but GRANT works (and then the SELECT does)
    assert as_role(pg, r["owner"], db, "SELECT * FROM open.t3") == "InsufficientPrivilege"
    assert as_role(
        pg,
        r["owner"],
        db,
        f"GRANT SELECT ON open.t3 TO {r['owner']}; SELECT count(*) FROM open.t3",
        rollback=True,
    ) == [(0,)]


def test_lo_compat_privileges_lets_every_role_use_every_large_object(
    pg: Server,
    layout: dict[str, str],
    fresh_db: str,
    snap: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r, db = layout, fresh_db
    res = who_can(["SELECT", "ON", "LARGE", "OBJECT", "424242"], snap, db, capsys)
    compat = {x["role"] for x in res["lo_compat"]}
    assert r["lo"] in compat and r["nousage"] in compat
    assert (
        as_role(
            pg,
            r["lo"],
            db,
            "SELECT has_largeobject_privilege(424242, 'SELECT')" if pg.major >= 16 else "SELECT 1",
        )
        is not None
    )
    assert as_role(pg, r["lo"], db, "SELECT lo_get(424242)") == [(b"secret",)]
    code, out, _err = run(["explain", r["lo"], str(snap)], capsys)
    assert code == 0 and "lo_compat_privileges = on in database" in out


def test_object_in_a_database_not_collected_is_unknown(
    pg: Server,
    layout: dict[str, str],
    fresh_db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = fresh_db
    pg.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
    try:
        path = tmp_path / "all.json"
        code, _out, err = run_cli(["collect", pg.conninfo(), "-o", str(path), "-q"], capsys)
        assert code in (0, 3), err
        if not path.exists():
            pytest.skip("collect refuses snapshots with gaps here (coverage gating)")
        code, out, err = run_cli(["who-can", "SELECT", "ON", "hidden.t", str(path)], capsys)
        assert code == 3 and out == ""
        assert err.count("\n") == 1 and "unknown" in err and db in err
    finally:
        pg.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')


def test_lo_compat_precedence_and_prerequisites() -> None:
    from pgaudit_roles.audit.can import lo_compat_on, prerequisites

    settings = {
        (None, None): False,
        ("db", None): True,
        (None, "alice"): False,
        ("db", "bob"): False,
    }
    assert lo_compat_on(settings, "db", "carol") is True  # database setting
    assert lo_compat_on(settings, "db", "alice") is False  # role beats database
    assert lo_compat_on(settings, "db", "bob") is False  # role in database beats all
    assert lo_compat_on(settings, "other", "carol") is False  # server value
    assert lo_compat_on({(None, None): True}, "x", "y") is True
    assert prerequisites("relation", "db", "s") == [("CONNECT", "database"), ("USAGE", "schema")]
    assert prerequisites("large_object", "db", None) == [("CONNECT", "database")]
    assert prerequisites("database", "db", None) == []
    assert prerequisites("tablespace", None, None) == []
