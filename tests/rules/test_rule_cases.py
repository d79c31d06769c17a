"""The data-driven rule test runner: every case of every rule, on every server version.

For each (rule, case) x PostgreSQL 13..18: a database and a unique name prefix of its own,
the case's SQL, a collection with the real collector, an evaluation of the rule, and the
check: a fail case needs a finding that concerns the case and matches ``[case.match]``; a
pass case may have no finding that concerns it (in its database, or naming one of its
roles). Then the databases and every role whose name contains the prefix are dropped (a
group's server is thrown away whole instead).

Speed without giving up isolation: per server version the cases are run in groups, each
case in its own database with its own prefix, prepared side by side and collected once
per group (``mode``), each group on a scratch server of the version (same install and
settings as the shared one). A case that neither has ``setup`` nor names ``{db}`` shares
the group's one pristine database instead (``shared_database`` says why that is the same):

- ``batch``: collected as the superuser, evaluated once for all their rules;
- ``auditor``: the same, collected as one pg_monitor auditor (no pg_hba grants);
- ``config``: collected once as the superuser, evaluated per case with its own config;
- ``hba``: collected once as the auditor, then each case's pg_hba text is parsed offline
  (as the collector parses ``--hba-file``) into a copy of that snapshot and evaluated; a
  self-check compares the injection with a real ``--hba-file`` collection;
- ``alone``: cases with server ``settings`` or ``isolated = true`` (and every case with
  ``PGAUDIT_CASES_ISOLATED=1``, handy when debugging) run by themselves.

Each case only looks at findings that concern it, so other cases cannot make it pass or
fail; a case that runs alone may match a fail case against every finding.

Case files: tests/rules/cases/<RULE_ID>.toml (format in caseload.py).
"""

from __future__ import annotations

import contextlib
import functools
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
    from pgaudit_roles.evaluate.rules import load_rules, resolve_ids

    rules = load_rules()
    ids = resolve_ids(rules)
    by_id = {r.id: r for r in rules}
    return {name: by_id[rid] for name, rid in ids.items()}


def mode(case: Case) -> str:
    """How a case runs: batch, auditor, config, hba or alone (see the module docstring)."""
    if ISOLATE_ALL or case.isolated or case.settings or case.connect_to or case.inventory:
        return "alone"
    if case.hba is not None:
        return "hba"
    if case.collect_as == "auditor":
        return "alone" if case.config else "auditor"
    return "config" if case.config else "batch"


GROUPS = ("batch", "auditor", "config", "hba")


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
    snapshot: Any = None  # config and hba cases: their group's snapshot, evaluated in the test


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def needs_own_database(case: Case) -> bool:
    """Whether the case changes or names its database: it has ``setup`` SQL, or ``{db}``
    appears in anything it runs, configures or matches. A case that does neither can only
    ever see its database as a pristine copy of template0 (no other case can name it), so
    in a group such cases share one pristine database (``shared_database``)."""
    texts = (case.cluster_setup, case.hba, case.config, case.settings, case.match, case.inventory)
    return bool(case.setup) or "{db}" in repr(texts)


def create_database(pg: Any, db: str, admin: Any = None) -> None:
    """CREATE DATABASE ``db`` from template0, on ``admin`` (an open autocommit superuser
    session of ``pg``: a group creates a few hundred) or a session of its own."""
    # FILE_COPY (15+; 13 and 14 know no other): no copy of the template in the WAL,
    # half the server CPU of the default for a template as small as template0
    strategy = " STRATEGY FILE_COPY" if pg.major >= 15 else ""
    create = f"CREATE DATABASE {quote(db)} TEMPLATE template0{strategy}"
    if admin is not None:
        admin.execute(create.encode())
    else:
        pg.execute(create)


def fresh_session(conn: Any) -> None:
    """Return an autocommit session to the state of a new one after a case's SQL: a
    transaction the SQL left open is rolled back (as closing the session did), then
    ``DISCARD ALL`` (role, session authorization, every setting, temporary tables,
    prepared statements, cursors, advisory locks, LISTEN). Why not a new session per case:
    a connection costs the server and the client about 2.4 ms, some 300 per version."""
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.execute(b"ROLLBACK", prepare=False)
    conn.execute(b"DISCARD ALL", prepare=False)


def prepare(
    pg: Any, case: Case, prefix: str, admin: Any = None, shared_db: str | None = None
) -> Prepared:
    """Create the case's database and run its SQL; a failure is recorded, not raised.

    ``admin``: see ``create_database``; the case's ``cluster_setup`` runs on it too, and
    ``fresh_session`` then returns it to a new session's state, so nothing the SQL sets
    carries over (``setup`` runs in a session of its own in the case's database).
    ``shared_db``: the group's pristine database, used instead of a database of its own
    (only for a case that does not ``needs_own_database``)."""
    assert shared_db is None or not needs_own_database(case), case.id
    db = shared_db or f"{prefix}_db"
    prep = Prepared(case=case, prefix=prefix, db=db)
    try:
        if shared_db is None:
            create_database(pg, db, admin)
        if case.cluster_setup and admin is not None:
            try:
                admin.execute(substitute(case.cluster_setup, prefix, db).encode())
            finally:
                fresh_session(admin)
        elif case.cluster_setup:
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
                row = conn.execute(
                    "SELECT context FROM pg_settings WHERE name = %s", (name,)
                ).fetchone()
                assert row is not None, f"unknown setting {name!r} in case settings"
                assert row[0] != "postmaster", f"setting {name!r} needs a restart"
                target = sql.Identifier(*name.split("."))
                try:
                    conn.execute(
                        sql.SQL("ALTER SYSTEM SET {} = {}").format(target, sql.Literal(value))
                    )
                except psycopg.Error as exc:
                    pytest.skip(f"this server cannot take {name} = {value!r}: {str(exc).strip()}")
                applied.append(name)
            conn.execute("SELECT pg_reload_conf()")
        _wait_for_auto_conf(pg, applied, present=True)
        yield
    finally:
        if applied:
            with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
                for name in applied:
                    conn.execute(
                        sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(*name.split(".")))
                    )
                conn.execute("SELECT pg_reload_conf()")
            _wait_for_auto_conf(pg, applied, present=False)


def _wait_for_auto_conf(pg: Any, names: list[str], *, present: bool) -> None:
    """Wait until a new session's values of ``names`` come (or no longer come) from
    postgresql.auto.conf: the postmaster handles the reload signal asynchronously."""
    deadline = time.monotonic() + 15
    while True:
        rows = pg.query(
            "SELECT name, coalesce(sourcefile, '') FROM pg_settings WHERE name = ANY(%s)", (names,)
        )
        if all(f.endswith("postgresql.auto.conf") == present for _, f in rows):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"server did not reload settings {names} (present={present})")
        time.sleep(0.05)


def collect_for(pg: Any, user: str, dbs: list[str], hba_file: Path | None = None) -> Any:
    from pgaudit_roles.collect.collector import collect

    return collect(
        pg.conninfo(user=user, dbname=dbs[0]),
        databases=dbs,
        hba_file=str(hba_file) if hba_file else None,
    )


def cleanup(pg: Any, dbs: list[str], token: str) -> None:
    """Drop the databases, then every role whose name contains ``token``."""
    import psycopg
    from psycopg import sql

    for db in dbs:
        pg.drop_database(db)
    names = [
        r[0]
        for r in pg.query("SELECT rolname FROM pg_roles WHERE strpos(rolname, %s) > 0", (token,))
    ]
    if not names:
        return
    idents = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(idents))
        conn.execute(sql.SQL("DROP ROLE {}").format(idents))


def evaluate_rules(
    snapshot: Any,
    rule_ids: set[str],
    config: dict[str, Any],
    origin: str,
    *,
    inventory: bool = False,
) -> dict[str, Any]:
    """The rules' results. A case's own evaluation (config, hba, alone) builds only the
    tables its rule reads (``engine.evaluate(inventory=False)``, which test_build_plan
    proves equal to the full build rule by rule); the batch and auditor groups build the
    whole audit schema and its inventory, as ``scan`` and ``check`` do."""
    from pgaudit_roles.config import config_from_mapping
    from pgaudit_roles.evaluate.engine import evaluate

    rules = [rules_by_id()[r] for r in sorted(rule_ids)]
    result = evaluate(
        snapshot, rules, config_from_mapping(config, origin=origin), inventory=inventory
    )
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


REFERENCE_HBA = """\
local all all trust
host all all 127.0.0.1/32 scram-sha-256
hostssl "my db",sales +admins,"Bob" 10.0.0.0 255.0.0.0 ldap ldapserver=ldap.example.com ldapbindpasswd="s3cret x"
host all all ::1/128 nonsense
"""
"""What the hba group's one real ``--hba-file`` collection reads: quoting, a group, a netmask,
a secret to redact and a line with an error, so the injection's self-check has them."""


def hba_snapshot(snapshot: Any, hba_path: Path, major: int) -> Any:
    """A copy of ``snapshot`` whose pg_hba rules are ``hba_path`` parsed offline, exactly as
    the collector reads ``--hba-file`` when pg_hba_file_rules is not readable (the group's
    self-check compares the two)."""
    import dataclasses

    from pgaudit_roles.collect.collector import redact_hba_options
    from pgaudit_roles.collect.hba import parse_hba_file
    from pgaudit_roles.collect.snapshot import CLUSTER_TABLES, Table

    columns = [c[0] for c in CLUSTER_TABLES["hba_rules"]]
    rows = [[r.get(c) for c in columns] for r in parse_hba_file(str(hba_path), major)]
    opt = columns.index("options")
    for row in rows:
        row[opt] = redact_hba_options(row[opt])
    meta = dict(snapshot.meta)
    meta["sources"] = dict(meta["sources"])
    meta["sources"]["hba_rules"] = {"collected": True, "reason": None, "origin": f"file:{hba_path}"}
    return dataclasses.replace(
        snapshot,
        meta=meta,
        cluster={**snapshot.cluster, "hba_rules": Table(columns=columns, rows=rows)},
    )


def _collect_group(pg: Any, kind: str, preps: list[Prepared], token: str, hba_dir: Path) -> None:
    """Collect one group of prepared cases once; batch and auditor groups are evaluated
    here, config and hba cases keep the snapshot for their own evaluation."""
    group = [p for p in preps if p.error is None]
    if not group:
        return
    try:
        user = "postgres"
        if kind in ("auditor", "hba"):
            user = f"{token}_auditor"
            ensure_auditor(pg, user, [p.db for p in group])
        if kind == "hba":
            for p in group:
                p.hba_path = hba_dir / f"{p.prefix}.conf"
                p.hba_path.write_text(substitute(p.case.hba, p.prefix, p.db), encoding="utf-8")
            reference = hba_dir / "reference.conf"
            reference.write_text(REFERENCE_HBA, encoding="utf-8")
            # one database is enough: pg_hba rules read cluster-wide tables only
            snapshot = collect_for(pg, user, [group[0].db], reference)
            injected = hba_snapshot(snapshot, reference, pg.major)
            assert snapshot.meta["sources"]["hba_rules"] == injected.meta["sources"]["hba_rules"]
            assert (
                snapshot.table("hba_rules").columns == injected.table("hba_rules").columns
                and snapshot.table("hba_rules").rows == injected.table("hba_rules").rows
            ), "the offline pg_hba injection differs from the collector's --hba-file reading"
        else:
            snapshot = collect_for(pg, user, [p.db for p in group])
        if kind in ("config", "hba"):
            for p in group:
                p.snapshot = snapshot
                p.batched = True
            return
        results = evaluate_rules(
            snapshot,
            {rules_by_id()[p.case.rule_id].id for p in group},
            {},
            "rule cases",
            inventory=True,
        )
    except Exception as exc:  # every case of the group reports it
        for p in group:
            p.error = f"{kind} group collection/evaluation failed: {type(exc).__name__}: {exc}"
    else:
        for p in group:
            p.result = results[rules_by_id()[p.case.rule_id].id]
            p.batched = True


@pytest.fixture(scope="session")
def groups(
    pg: Any, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Prepared]]:
    """Every case of this server version that runs in a group, prepared and collected one
    group at a time, then cleaned up again: outcomes and snapshots stay in memory."""
    wanted = selected_case_ids(request.session, pg.major)
    hba_dir = tmp_path_factory.mktemp(f"hba-cases-pg{pg.major}")
    preps: dict[str, Prepared] = {}
    for g, kind in enumerate(GROUPS):
        token = f"rc{g}{os.getpid()}v{pg.major}n"
        chosen = [
            c
            for c in CASES
            if mode(c) == kind
            and c.applies_to(pg.major)
            and c.rule_id in rules_by_id()
            and c.id in wanted
        ]
        if not chosen:
            continue
        # each group on a scratch server of the same version and settings as ``pg``,
        # thrown away whole afterwards: dropping a few hundred case databases one by one
        # (each DROP DATABASE waits for a checkpoint) cost more than the cases themselves,
        # and the next group and the cases that run alone on ``pg`` see none of its roles
        with scratch_server(pg) as server:
            import psycopg

            with psycopg.connect(server.conninfo(), autocommit=True) as admin:
                shared = shared_database(server, token, chosen, admin)
                group = [
                    prepare(
                        server,
                        c,
                        f"{token}{i:04d}z",
                        admin,
                        None if needs_own_database(c) else shared,
                    )
                    for i, c in enumerate(chosen)
                ]
            _collect_group(server, kind, group, token, hba_dir)
        preps.update((p.case.id, p) for p in group)
    yield preps


def shared_database(server: Any, token: str, cases: list[Case], admin: Any) -> str | None:
    """The group's one pristine database for its cases that do not ``needs_own_database``
    (None when every case needs its own).

    Why this is the same test: such a case's own database was a copy of template0 that no
    statement of any case could touch (its name is unknowable to the others, and its case
    neither has ``setup`` nor names ``{db}``), so it differed from this one only in name.
    Every finding that concerned the case through its database (about the database itself,
    or about any role's rights in it) is found, renamed, about this one, which ``concerns``
    gives to each case that shares it (by ``database`` or by its name in a finding's text,
    as a database named with the case's prefix was); the other cases' databases are the
    same as before. What changes is only how many databases the group has, which already
    varies with the cases selected (a rule that counts across the cluster runs alone).
    Each one saves a CREATE DATABASE and a database to collect and load: a third of a
    version's rule-case databases."""
    if all(needs_own_database(c) for c in cases):
        return None
    name = f"{token}shared_db"
    create_database(server, name, admin)
    return name


@contextlib.contextmanager
def scratch_server(pg: Any) -> Iterator[Any]:
    """A new server of ``pg``'s install and settings, stopped and deleted on exit."""
    from conftest import Server

    from pgaudit_roles.core.localpg import LocalCluster

    cluster = LocalCluster(pg.cluster.install, settings=dict(pg.cluster.settings))
    cluster.start()
    try:
        yield Server(cluster)
    finally:
        cluster.stop(mode="immediate")


def finish(prep: Prepared) -> Prepared:
    """Evaluate a config or hba case on its group's snapshot (its own config, its own
    pg_hba text); an error is recorded for the test to report."""
    if prep.error is not None or prep.result is not None or prep.snapshot is None:
        return prep
    case = prep.case
    try:
        snapshot = prep.snapshot
        if case.hba is not None:
            assert prep.hba_path is not None
            major = int(snapshot.meta["server_version_num"]) // 10000
            snapshot = hba_snapshot(snapshot, prep.hba_path, major)
        rid = rules_by_id()[case.rule_id].id
        prep.result = evaluate_rules(
            snapshot, {rid}, substitute(case.config, prep.prefix, prep.db), f"{case.path} config"
        )[rid]
    except Exception as exc:
        prep.error = f"evaluation failed: {type(exc).__name__}: {exc}"
    return prep


@pytest.fixture
def alone(pg: Any, tmp_path: Path) -> Iterator[Any]:
    """Runs one case by itself (server settings, isolated); cleans up after it."""
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
            if case.inventory is not None:
                prep.result = run_fleet_case(pg, prep, user, tmp_path)
                return prep
            dbs = [case.connect_to, prep.db] if case.connect_to else [prep.db]
            with server_settings(pg, substitute(case.settings, prefix, prep.db)):
                snapshot = collect_for(pg, user, dbs, prep.hba_path)
            rid = rules_by_id()[case.rule_id].id
            prep.result = evaluate_rules(
                snapshot, {rid}, substitute(case.config, prefix, prep.db), f"{case.path} config"
            )[rid]
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


def run_fleet_case(pg: Any, prep: Prepared, user: str, tmp_path: Path) -> Any:
    """A fleet case: its inventory run through the fleet (as ``pgaudit-roles fleet`` does,
    in this process), and the case's rule over every target as one RuleResult: ``fail``
    with the findings of the targets where the fleet reported it, ``pass`` when every
    target was audited without it (the fleet reports the rule only where it fails)."""
    from pgaudit_roles.config import Config
    from pgaudit_roles.core.localpg import free_port
    from pgaudit_roles.core.model import RuleResult
    from pgaudit_roles.fleet.audit import FleetOptions, execute, select
    from pgaudit_roles.pipeline import load_rules_for

    case = prep.case
    assert case.inventory is not None
    text = substitute(case.inventory, prep.prefix, prep.db)
    for name, value in (
        ("{host}", str(pg.cluster.socket_dir)),
        ("{port}", str(pg.cluster.port)),
        ("{user}", user),
        ("{closed_port}", str(free_port())),
    ):
        text = text.replace(name, value)
    inventory = tmp_path / "fleet.toml"
    inventory.write_text(text, encoding="utf-8")
    opts = FleetOptions(
        inventory=inventory,
        output_dir=tmp_path / "fleet",
        formats=["json"],
        parallel=2,
        timeout_s=120.0,
        compare_environments=False,
    )
    cfg = Config()
    rules = load_rules_for(cfg)
    loaded, chosen = select(opts)
    fleet = execute(opts, loaded, chosen, cfg, rules, lambda _line: None)
    rule = rules_by_id()[case.rule_id]
    findings: list[Any] = []
    for o in fleet.outcomes:
        assert o.result is not None, f"target {o.target.name}: {o.status} ({o.reason})"
        mine = [r for r in o.result.results if r.rule.id == rule.id]
        assert mine or o.status == "audited", f"{o.target.name}: {o.status} without {rule.id}"
        findings += [f for r in mine for f in r.findings]
    return RuleResult(rule=rule, status="fail" if findings else "pass", findings=findings)


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
    # the database's name: for a database of its own a no-op (it holds the prefix), for a
    # group's shared pristine database what its name in the text gave each case before
    return any(
        tag in (v or "")
        for tag in (prep.prefix, prep.db)
        for v in (f.role, f.object_name, f.object_identity, f.schema)
    )


def describe(findings: list[Any]) -> str:
    return (
        "\n".join(
            f"  - role={f.role!r} db={f.database!r} type={f.object_type!r} "
            f"schema={f.schema!r} name={f.object_name!r} identity={f.object_identity!r}"
            f": {f.message}"
            for f in findings
        )
        or "  (none)"
    )


@pytest.mark.pg
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(pg: Any, case: Case, groups: dict[str, Prepared], alone: Any) -> None:
    if not case.applies_to(pg.major):
        pytest.skip(f"case applies to PostgreSQL {case.min_version or 13}-{case.max_version or ''}")
    assert case.rule_id in rules_by_id(), f"{case.path}: no rule {case.rule_id}"
    grouped = groups.get(case.id)
    prep = finish(grouped) if grouped is not None else alone(case)
    where = (
        f"{case.id} [{mode(case) if prep.batched else 'alone'}, prefix {prep.prefix}, db {prep.db}]"
    )
    assert prep.error is None, f"{where}: {prep.error}"
    rr = prep.result
    assert rr.status != "error", f"{where}: rule error: {rr.reason}"
    mine = [f for f in rr.findings if concerns(f, prep)]

    if case.expect == "fail":
        assert rr.status == "fail", f"{where}: expected a finding, rule {rr.status} ({rr.reason})"
        match = substitute(case.match, prep.prefix, prep.db)
        pool = mine if prep.batched else rr.findings
        hits = [f for f in pool if finding_matches(f, match)]
        assert hits, f"{where}: no finding matches {match}; findings of this case:\n" + describe(
            mine
        )
        for f in hits:
            assert f.remediation or f.manual, f"{where}: finding without remediation or manual"
    else:
        assert rr.status in ("pass", "fail"), f"{where}: rule {rr.status}: {rr.reason}"
        assert not mine, f"{where}: expected no finding for this case, got:\n" + describe(mine)
