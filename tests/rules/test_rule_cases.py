"""The data-driven rule test runner: every case of every rule, on every server version.

For each (rule, case) x PostgreSQL 13..18: a fresh database and a unique name prefix, the
case's SQL, a collection with the real collector, an evaluation of the rule, and the check:
a fail case needs a finding that concerns the case and matches ``[case.match]``; a pass case
may have no finding that concerns it (in its database, or naming one of its roles). Then the
databases and every role whose name contains the prefix are dropped.

Speed without giving up isolation: the cases of one server version that need nothing of
their own (no ``hba`` file, ``config`` or ``settings``, collected as the superuser, not
``isolated``, and a fail match that names ``{p}`` or ``{db}``) are prepared side by side, each in its own database with its own
prefix, then collected once and evaluated once per collecting role. Each case still only
looks at findings that concern it, so other cases cannot make it pass or fail. Every other
case (and every case with ``PGAUDIT_CASES_ISOLATED=1``, handy when debugging) runs alone.

Case files: tests/rules/cases/<RULE_ID>.toml (format in caseload.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from caseload import Case, all_cases, substitute  # noqa: E402

CASES = all_cases()
ISOLATE_ALL = os.environ.get("PGAUDIT_CASES_ISOLATED") == "1"


@functools.cache
def rules_by_id() -> dict[str, Any]:
    from pgaudit_roles.rules import load_rules, resolve_ids

    rules = load_rules()
    ids = resolve_ids(rules)
    by_id = {r.id: r for r in rules}
    return {name: by_id[rid] for name, rid in ids.items()}


def batchable(case: Case) -> bool:
    if (ISOLATE_ALL or case.isolated or case.hba is not None or case.config or case.settings
            or case.collect_as != "superuser" or case.connect_to):
        return False
    if case.expect == "fail":
        text = json.dumps(case.match)
        return "{p}" in text or "{db}" in text
    return True


@dataclass
class Prepared:
    """A case's database and prefix, and what happened to it."""

    case: Case
    prefix: str
    db: str
    error: str | None = None
    result: Any = None  # RuleResult of the case's rule
    hba_path: Path | None = None
    batched: bool = False


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def prepare(pg: Any, case: Case, prefix: str) -> Prepared:
    """Create the case's database and run its SQL; a failure is recorded, not raised."""
    db = f"{prefix}_db"
    prep = Prepared(case=case, prefix=prefix, db=db)
    try:
        pg.create_database(db)
        if case.cluster_setup:
            pg.execute(substitute(case.cluster_setup, prefix, db))
        if case.setup:
            pg.execute(substitute(case.setup, prefix, db), dbname=db)
    except Exception as exc:  # reported by the case's own test
        prep.error = f"setup failed: {type(exc).__name__}: {exc}"
    return prep


def ensure_auditor(pg: Any, name: str, dbs: list[str]) -> None:
    """A pg_monitor login without the pg_hba grants, able to connect to ``dbs``."""
    if not pg.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)):
        pg.execute(f"CREATE ROLE {quote(name)} LOGIN; GRANT pg_monitor TO {quote(name)};")
    for db in dbs:
        (ok,) = pg.query("SELECT has_database_privilege(%s, %s, 'CONNECT')", (name, db))[0]
        if not ok:
            pg.execute(f"GRANT CONNECT ON DATABASE {quote(db)} TO {quote(name)}")


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


def collect_for(pg: Any, user: str, dbs: list[str], hba_file: Path | None = None) -> Any:
    from pgaudit_roles.collect import collect

    return collect(pg.conninfo(user=user, dbname=dbs[0]), databases=dbs,
                   hba_file=str(hba_file) if hba_file else None)


def cleanup(pg: Any, dbs: list[str], token: str) -> None:
    """Drop the databases, then every role whose name contains ``token``."""
    import psycopg
    from psycopg import sql

    for db in dbs:
        pg.drop_database(db)
    names = [r[0] for r in pg.query("SELECT rolname FROM pg_roles WHERE strpos(rolname, %s) > 0",
                                    (token,))]
    if not names:
        return
    idents = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(idents))
        conn.execute(sql.SQL("DROP ROLE {}").format(idents))


def evaluate_rules(snapshot: Any, rule_ids: set[str], config: dict[str, Any],
                   origin: str) -> dict[str, Any]:
    from pgaudit_roles.config import config_from_mapping
    from pgaudit_roles.engine import evaluate

    rules = [rules_by_id()[r] for r in sorted(rule_ids)]
    result = evaluate(snapshot, rules, config_from_mapping(config, origin=origin))
    return {rr.rule.id: rr for rr in result.results}


def selected_case_ids(session: pytest.Session, major: int) -> set[str]:
    """Ids of the cases this run will execute on ``major`` (after -k and other selection)."""
    out: set[str] = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        case = params.get("case")
        if isinstance(case, Case) and params.get("pg", major) == major:
            out.add(case.id)
    return out


@pytest.fixture(scope="session")
def batch(pg: Any, request: pytest.FixtureRequest) -> Iterator[dict[str, Prepared]]:
    """Every batchable case of this server version, prepared, collected, evaluated and
    cleaned up again; the outcomes stay in memory for the tests."""
    token = f"rcb{os.getpid()}v{pg.major}n"
    wanted = selected_case_ids(request.session, pg.major)
    chosen = [c for c in CASES if batchable(c) and c.applies_to(pg.major)
              and c.rule_id in rules_by_id() and c.id in wanted]
    preps = {c.id: prepare(pg, c, f"{token}{i:04d}z") for i, c in enumerate(chosen)}
    try:
        group = [p for p in preps.values() if p.error is None]
        if group:
            try:
                snapshot = collect_for(pg, "postgres", [p.db for p in group])
                results = evaluate_rules(snapshot, {rules_by_id()[p.case.rule_id].id for p in group},
                                         {}, "rule cases")
            except Exception as exc:  # every case of the batch reports it
                for p in group:
                    p.error = f"batch collection/evaluation failed: {type(exc).__name__}: {exc}"
            else:
                for p in group:
                    p.result = results[rules_by_id()[p.case.rule_id].id]
                    p.batched = True
    finally:
        # results are in memory: drop everything now, so cases that run alone later see a
        # cluster without the batch's roles
        cleanup(pg, [p.db for p in preps.values()], token)
    yield preps


@pytest.fixture
def alone(pg: Any, tmp_path: Path) -> Iterator[Any]:
    """Runs one case by itself (hba file, own config, isolated); cleans up after it."""
    made: list[Prepared] = []

    def run(case: Case) -> Prepared:
        prefix = pg.unique("rc") + "z"
        prep = prepare(pg, case, prefix)
        made.append(prep)
        if prep.error:
            return prep
        try:
            user = "postgres"
            if case.hba is not None:
                prep.hba_path = tmp_path / "pg_hba.conf"
                prep.hba_path.write_text(substitute(case.hba, prefix, prep.db), encoding="utf-8")
            if case.collect_as == "auditor":
                user = f"{prefix}_auditor"
                ensure_auditor(pg, user, [case.connect_to or prep.db])
            dbs = [case.connect_to, prep.db] if case.connect_to else [prep.db]
            with server_settings(pg, substitute(case.settings, prefix, prep.db)):
                snapshot = collect_for(pg, user, dbs, prep.hba_path)
            rid = rules_by_id()[case.rule_id].id
            prep.result = evaluate_rules(snapshot, {rid}, substitute(case.config, prefix, prep.db),
                                         f"{case.path} config")[rid]
        except pytest.skip.Exception:
            raise
        except Exception as exc:
            prep.error = f"collection/evaluation failed: {type(exc).__name__}: {exc}"
        return prep

    try:
        yield run
    finally:
        for prep in made:
            cleanup(pg, [prep.db], prep.prefix)


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


def concerns(f: Any, prep: Prepared) -> bool:
    """The finding is about this case: its database, one of its roles or objects, or a
    cluster-level pg_hba line or server setting that names no role (they come from the
    case's own pg_hba text or from the test server's known settings, so they are the
    case's; so are coverage findings about a cluster-wide source, which come from the
    case's collecting role; one that names a role is the case's when the role is)."""
    if f.database == prep.db:
        return True
    if f.database is None and f.object_type in ("hba_rule", "setting", "source") and f.role is None:
        return True
    return any(prep.prefix in (v or "") for v in (f.role, f.object_name, f.object_identity, f.schema))


def describe(findings: list[Any]) -> str:
    return "\n".join(f"  - role={f.role!r} db={f.database!r} type={f.object_type!r} "
                     f"schema={f.schema!r} name={f.object_name!r} identity={f.object_identity!r}"
                     f": {f.message}" for f in findings) or "  (none)"


@pytest.mark.pg
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(pg: Any, case: Case, batch: dict[str, Prepared], alone: Any) -> None:
    if not case.applies_to(pg.major):
        pytest.skip(f"case applies to PostgreSQL {case.min_version or 13}-{case.max_version or ''}")
    assert case.rule_id in rules_by_id(), f"{case.path}: no rule {case.rule_id}"
    prep = batch.get(case.id) or alone(case)
    where = f"{case.id} [{'batched' if prep.batched else 'alone'}, prefix {prep.prefix}, db {prep.db}]"
    assert prep.error is None, f"{where}: {prep.error}"
    rr = prep.result
    assert rr.status != "error", f"{where}: rule error: {rr.reason}"
    mine = [f for f in rr.findings if concerns(f, prep)]

    if case.expect == "fail":
        assert rr.status == "fail", f"{where}: expected a finding, rule {rr.status} ({rr.reason})"
        match = substitute(case.match, prep.prefix, prep.db)
        pool = mine if prep.batched else rr.findings
        hits = [f for f in pool if finding_matches(f, match)]
        assert hits, f"{where}: no finding matches {match}; findings of this case:\n" + describe(mine)
        for f in hits:
            assert f.remediation or f.manual, f"{where}: finding without remediation or manual"
    else:
        assert rr.status in ("pass", "fail"), f"{where}: rule {rr.status}: {rr.reason}"
        assert not mine, f"{where}: expected no finding for this case, got:\n" + describe(mine)
