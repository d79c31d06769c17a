"""The data-driven rule test runner: every case of every rule, on every server version.

For each (rule, case) x PostgreSQL 13..18: create a fresh database, run the case's SQL,
collect that database with the real collector, evaluate ONLY that rule, and check that a
fail case produced a finding matching ``[case.match]`` and that a pass case produced no
finding that concerns it (in its database, or naming one of its roles). Then drop the
database and every role whose name contains the case's prefix.

Case files: tests/rules/cases/<RULE_ID>.toml (format in caseload.py).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caseload import Case, all_cases, substitute  # noqa: E402

CASES = all_cases()


@pytest.fixture
def case_env(pg: Any, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(prefix, database); teardown drops the database and the prefix's roles."""
    prefix = pg.unique("rc")
    db = pg.create_database(f"{prefix}_db")
    try:
        yield prefix, db
    finally:
        pg.drop_database(db)
        drop_prefixed_roles(pg, prefix)


def drop_prefixed_roles(pg: Any, prefix: str) -> None:
    from psycopg import sql

    names = [r[0] for r in pg.query("SELECT rolname FROM pg_roles WHERE strpos(rolname, %s) > 0",
                                    (prefix,))]
    if not names:
        return
    idents = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    import psycopg

    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(idents))
        conn.execute(sql.SQL("DROP ROLE {}").format(idents))


@contextlib.contextmanager
def server_settings(pg: Any, settings: dict[str, str]) -> Iterator[None]:
    """Apply ``settings`` with ALTER SYSTEM + reload for one case, and always reset them.

    The server is shared by every test of the session, so the reset runs in ``finally`` and
    waits until new sessions see the configuration file's values again. A setting the
    build refuses (ssl without SSL support) skips the case; one that needs a restart is an
    error in the case file.
    """
    import psycopg
    from psycopg import sql

    if not settings:
        yield
        return
    applied: list[str] = []
    try:
        with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
            for name, value in settings.items():
                row = conn.execute("SELECT context FROM pg_settings WHERE name = %s",
                                   (name,)).fetchone()
                assert row is not None, f"unknown setting {name!r} in case settings"
                assert row[0] != "postmaster", f"setting {name!r} needs a restart"
                target = sql.Identifier(*name.split("."))
                try:
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(target,
                                                                           sql.Literal(value)))
                except psycopg.Error as exc:
                    pytest.skip(f"this server cannot take {name} = {value!r}: "
                                f"{str(exc).strip()}")
                applied.append(name)
            conn.execute("SELECT pg_reload_conf()")
        _wait_for_auto_conf(pg, applied, present=True)
        yield
    finally:
        if applied:
            with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
                for name in applied:
                    conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(
                        sql.Identifier(*name.split("."))))
                conn.execute("SELECT pg_reload_conf()")
            _wait_for_auto_conf(pg, applied, present=False)


def _wait_for_auto_conf(pg: Any, names: list[str], *, present: bool) -> None:
    """Wait until a new session's values of ``names`` come (or no longer come) from
    postgresql.auto.conf: the postmaster handles the reload signal asynchronously."""
    deadline = time.monotonic() + 15
    while True:
        rows = pg.query("SELECT name, coalesce(sourcefile, '') FROM pg_settings "
                        "WHERE name = ANY(%s)", (names,))
        if all(f.endswith("postgresql.auto.conf") == present for _, f in rows):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"server did not reload settings {names} (present={present})")
        time.sleep(0.05)


def collect_case(pg: Any, case: Case, prefix: str, db: str, tmp_path: Path) -> Any:
    from pgaudit_roles.collect import collect

    hba_file = None
    if case.hba is not None:
        hba_file = tmp_path / "pg_hba.conf"
        hba_file.write_text(substitute(case.hba, prefix, db), encoding="utf-8")
    user = "postgres"
    if case.collect_as == "auditor":
        user = f"{prefix}_auditor"
        pg.execute(f'CREATE ROLE "{user}" LOGIN; GRANT pg_monitor TO "{user}";')
        (ok,) = pg.query("SELECT has_database_privilege(%s, %s, 'CONNECT')", (user, db))[0]
        if not ok:
            pg.execute(f'GRANT CONNECT ON DATABASE "{db}" TO "{user}"')
    return collect(pg.conninfo(user=user, dbname=db), databases=[db],
                   hba_file=str(hba_file) if hba_file else None)


def finding_matches(f: Any, match: dict[str, Any]) -> bool:
    for key, want in match.items():
        if key == "details":
            if any(f.details.get(k) != v for k, v in want.items()):
                return False
        elif key == "message_contains":
            if want not in f.message:
                return False
        elif getattr(f, key) != want:
            return False
    return True


def concerns(f: Any, prefix: str, db: str) -> bool:
    if f.database == db:
        return True
    if f.database is None and f.object_type in ("hba_rule", "setting"):
        # Cluster-level findings of the rule under test: they come from the case's own
        # pg_hba text or from the test server's known settings, so they are the case's.
        return True
    return any(prefix in (v or "") for v in (f.role, f.object_name, f.object_identity, f.schema))


def describe(findings: list[Any]) -> str:
    return "\n".join(f"  - role={f.role!r} db={f.database!r} type={f.object_type!r} "
                     f"schema={f.schema!r} name={f.object_name!r}: {f.message}"
                     for f in findings) or "  (none)"


@pytest.mark.pg
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(pg: Any, case: Case, case_env: tuple[str, str], tmp_path: Path) -> None:
    from pgaudit_roles.config import config_from_mapping
    from pgaudit_roles.engine import evaluate
    from pgaudit_roles.rules import find_rule, load_rules

    if not case.applies_to(pg.major):
        pytest.skip(f"case applies to PostgreSQL {case.min_version or 13}-{case.max_version or ''}")
    prefix, db = case_env
    rule = find_rule(load_rules(), case.rule_id)
    assert rule is not None, f"{case.path}: no rule {case.rule_id}"

    if case.cluster_setup:
        pg.execute(substitute(case.cluster_setup, prefix, db))
    if case.setup:
        pg.execute(substitute(case.setup, prefix, db), dbname=db)
    with server_settings(pg, substitute(case.settings, prefix, db)):
        snapshot = collect_case(pg, case, prefix, db, tmp_path)
    cfg = config_from_mapping(substitute(case.config, prefix, db), origin=f"{case.path} config")
    result = evaluate(snapshot, [rule], cfg)
    (rr,) = result.results
    assert rr.status != "error", f"{case.id}: rule error: {rr.reason}"
    mine = [f for f in rr.findings if concerns(f, prefix, db)]

    if case.expect == "fail":
        assert rr.status == "fail", (f"{case.id}: expected a finding, rule status {rr.status} "
                                     f"({rr.reason})")
        match = substitute(case.match, prefix, db)
        hits = [f for f in rr.findings if finding_matches(f, match)]
        assert hits, (f"{case.id}: no finding matches {match}; findings of this case:\n"
                      + describe(mine))
        for f in hits:
            assert f.remediation or f.manual, f"{case.id}: finding without remediation or manual"
    else:
        assert rr.status in ("pass", "fail"), f"{case.id}: rule {rr.status}: {rr.reason}"
        assert not mine, f"{case.id}: expected no finding for this case, got:\n" + describe(mine)
