"""Helpers for the fix-and-rescan acceptance test (issue 5): the demo layout on a dedicated
server, scans through the real CLI, psql runs of the remediation script, and probes that
log in as the application's roles and try what the production role guide says they do.

Why a dedicated server per version (not the shared ``pg`` session server): the demo uses
fixed, cluster-global role names (app_api, db_owner_api, ...) and its own pg_hba.conf, and
the remediation script changes roles cluster-wide; neither may leak into other modules.

The probes quote every name with psycopg's own ``sql.Identifier`` (not the project's
quoting helpers), so they do not grade the code under test with itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli_support import cli_process

from pgaudit_roles import demo
from pgaudit_roles.core.localpg import LocalCluster, PgInstall, find_installs
from pgaudit_roles.demo.build import (
    AUDITOR,
    apply_layout,
    create_auditor,
    parse_layout,
    server_version_num,
)

# The demo's applications, as its config names them: app -> (database, schemas).
APPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "api": ("api_prod", ("api",)),
    "billing": ("billing_prod", ("billing",)),
}
# Login roles that read through db_reader_<app> (the guide's analyst), and the apps they read.
READERS: dict[str, tuple[str, ...]] = {
    "analyst_jane": ("api", "billing"),
    'o\'brien "ops"': ("billing",),
}
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
WRITES = ("INSERT", "UPDATE", "DELETE")


# --- the demo server --------------------------------------------------------------------


@dataclass
class DemoCluster:
    """A started server holding the demo layout, with the passwords the layout was given."""

    cluster: LocalCluster
    work: Path
    rules: Path  # the frozen rule set every scan of this server uses
    passwords: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def major(self) -> int:
        return self.cluster.install.major

    @property
    def config(self) -> Path:
        return self.work / "pgaudit-roles.toml"

    def superuser_conninfo(self, dbname: str = "postgres") -> str:
        return self.cluster.conninfo(dbname=dbname)

    def login(self, role: str, dbname: str) -> Any:
        """A real password login over TCP (the demo's ``host ... 127.0.0.1/32 scram-sha-256``
        line; the unix socket is trust, which would prove nothing)."""
        import psycopg

        return psycopg.connect(
            self.cluster.tcp_conninfo(role, self.passwords[role], dbname), connect_timeout=10
        )

    def query(self, sql: str, params: tuple | None = None, dbname: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.superuser_conninfo(dbname), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def stop(self) -> None:
        self.cluster.stop()


def install_for_major(major: int) -> PgInstall | None:
    return find_installs().get(major)


def start_demo(install: PgInstall, work: Path) -> DemoCluster:
    """Start a server with the demo's pg_hba.conf, build layout.sql (with its deliberate
    mistakes) as the superuser, add the pg_monitor auditor, and copy the demo config."""
    work.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(install, hba=demo.HBA_FILE.read_text(encoding="utf-8"))
    started = time.monotonic()
    rules = freeze_rules(work)
    cluster.start()
    dc = DemoCluster(cluster, work, rules)
    try:

        def password_for(role: str) -> str:
            dc.passwords[role] = f"fixrescan-{secrets.token_hex(10)}"
            return dc.passwords[role]

        steps = parse_layout(
            demo.LAYOUT_FILE.read_text(encoding="utf-8"), server_version_num(cluster)
        )
        apply_layout(cluster, steps, password_for)
        create_auditor(cluster)
        dc.config.write_text(demo.CONFIG_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    except BaseException:
        cluster.stop()
        raise
    dc.timings["build"] = time.monotonic() - started
    return dc


# --- scans through the CLI ---------------------------------------------------------------


@dataclass
class Scan:
    """One ``pgaudit-roles scan`` (or ``check``) run: exit code, JSON report, SQL script."""

    returncode: int
    stderr: str
    report: dict[str, Any]
    script: str
    out_dir: Path

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.report["findings"])

    def by_fingerprint(self) -> dict[str, dict[str, Any]]:
        return {f["fingerprint"]: f for f in self.findings}

    def with_sql(self) -> dict[str, dict[str, Any]]:
        """Active findings whose fix is SQL (the ones the script is meant to fix)."""
        return {
            f["fingerprint"]: f
            for f in self.findings
            if f.get("remediation") and f.get("suppressed") is None
        }

    def rule_status(self) -> dict[str, str]:
        return {r["id"]: r["status"] for r in self.report["rules"]}


# Runs the real CLI (``pgaudit_roles.cli.main``) with the built-in rule directory pointed at
# a frozen copy: the before and after scans must evaluate the same rule set, and in a
# working tree where rules are being written a file can change between the two scans.


def freeze_rules(work: Path) -> Path:
    """A copy of the built-in rules (and their frameworks) taken once per server."""
    from pgaudit_roles.core import resources

    dest = work / "rules"
    shutil.copytree(resources.rules_dir(), dest)
    return dest


def _cli(dc: DemoCluster, args: list[str]) -> subprocess.CompletedProcess[str]:
    """In this process (tests/cli_support.py), with no PG* variables: these tests read exit
    codes, reports and scripts, not the process; a subprocess per scan paid the interpreter
    start and the heavy imports again. Every built-in rule path goes through
    ``resources.rules_dir()``, so pointing it at the frozen copy for the run is enough."""
    from pgaudit_roles.core import resources

    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    builtin = resources.rules_dir
    resources.rules_dir = lambda: dc.rules  # type: ignore[assignment]
    try:
        return cli_process(args, cwd=dc.work, env=env)
    finally:
        resources.rules_dir = builtin  # type: ignore[assignment]


def _read_outputs(out_dir: Path, proc: subprocess.CompletedProcess[str], want_json: bool) -> Scan:
    if proc.returncode not in (0, 1):  # 2: usage/config/rule error, 3: unreachable
        raise AssertionError(
            f"pgaudit-roles exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    scripts = sorted(out_dir.glob("*.sql"))
    assert len(scripts) == 1, f"expected one .sql report in {out_dir}: {scripts}"
    report: dict[str, Any] = {}
    if want_json:
        reports = sorted(out_dir.glob("*.json"))
        reports = [p for p in reports if p.name != "snapshot.json"]
        assert len(reports) == 1, f"expected one JSON report in {out_dir}: {reports}"
        report = json.loads(reports[0].read_text(encoding="utf-8"))
    return Scan(
        proc.returncode, proc.stderr, report, scripts[0].read_text(encoding="utf-8"), out_dir
    )


def scan(dc: DemoCluster, name: str, level: str, *, verify: bool = True) -> Scan:
    """``pgaudit-roles scan`` as the pg_monitor auditor, with the demo config, writing
    JSON, the SQL script at ``level`` and the snapshot into ``work/name``.

    ``verify=False`` adds ``--no-verify``: for a rescan whose findings are read but whose
    script is not, the twin that would verify that script proves nothing the test reads
    (the findings and the JSON report are the same either way)."""
    out_dir = dc.work / name
    started = time.monotonic()
    proc = _cli(
        dc,
        [
            "scan",
            dc.cluster.conninfo(user=AUDITOR),
            "--config",
            str(dc.config),
            "--format",
            "sql,json",
            "--output-dir",
            str(out_dir),
            "--remediation-level",
            level,
            "--snapshot-out",
            str(out_dir / "snapshot.json"),
            "--quiet",
            *(() if verify else ("--no-verify",)),
        ],
    )
    dc.timings[f"scan {name}"] = time.monotonic() - started
    return _read_outputs(out_dir, proc, want_json=True)


def check_script(dc: DemoCluster, snapshot: Path, name: str, level: str) -> Scan:
    """The script for the same snapshot at another level (``pgaudit-roles check``)."""
    out_dir = dc.work / name
    proc = _cli(
        dc,
        [
            "check",
            str(snapshot),
            "--config",
            str(dc.config),
            "--format",
            "sql",
            "--output-dir",
            str(out_dir),
            "--remediation-level",
            level,
            "--quiet",
        ],
    )
    return _read_outputs(out_dir, proc, want_json=False)


# --- psql --------------------------------------------------------------------------------


def psql_binary(install: PgInstall) -> str:
    """The server's own psql, else the newest one we can find (newer psql reads older servers)."""
    own = install.bin_dir / "psql"
    if own.exists():
        return str(own)
    for inst in sorted(find_installs().values(), key=lambda i: -i.major):
        if (inst.bin_dir / "psql").exists():
            return str(inst.bin_dir / "psql")
    found = shutil.which("psql")
    if not found:
        raise AssertionError("no psql client found")
    return found


def psql_file(
    install: PgInstall, conninfo: str, path: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``path`` the way a fix script's header says, ``psql -X -v ON_ERROR_STOP=1 -f``,
    with no PG* variable of the test environment reaching psql."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(
        [psql_binary(install), "-X", "-v", "ON_ERROR_STOP=1", "-f", str(path), "-d", conninfo],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def apply_script(dc: DemoCluster, script: str, name: str) -> subprocess.CompletedProcess[str]:
    """Run the script the way its header says: ``psql -X -v ON_ERROR_STOP=1 -f``, superuser."""
    path = dc.work / name
    path.write_text(script, encoding="utf-8")
    started = time.monotonic()
    proc = psql_file(dc.cluster.install, dc.superuser_conninfo(), path, 300)
    dc.timings[f"psql {name}"] = time.monotonic() - started
    return proc


# --- script structure --------------------------------------------------------------------

OMITTED_MARK = "-- DESTRUCTIVE: review - omitted at level safe"
EMITTED_MARK = "-- DESTRUCTIVE: review"
_SESSION = (
    "BEGIN",
    "COMMIT",
    "SET client_encoding",
    "SET standard_conforming_strings",
    "SELECT pg_catalog.pg_reload_conf()",
)


def executable_statements(script: str) -> list[str]:
    """The SQL statements psql would run (comments, blank lines, meta-commands and the
    session/transaction boilerplate left out), each as pglast splits them."""
    from pglast import split

    body = "\n".join(
        ln
        for ln in script.splitlines()
        if not ln.lstrip().startswith("\\") and not ln.lstrip().startswith("--")
    )
    out = []
    for stmt in split(body):
        text = " ".join(stmt.split())
        if not text.startswith(_SESSION):
            out.append(text)
    return out


def omitted_statements(script: str) -> list[str]:
    """Statements a safe-level script lists as comments after the omission mark."""
    lines = script.splitlines()
    out = []
    for i, ln in enumerate(lines):
        if ln.startswith(OMITTED_MARK):
            nxt = lines[i + 1]
            assert nxt.startswith("--"), f"omission mark not followed by a comment: {nxt!r}"
            out.append(" ".join(nxt[2:].split()).rstrip(";"))
    return out


def marked_destructive(script: str) -> list[str]:
    """Statements an all-level script emits right after ``-- DESTRUCTIVE: review``."""
    lines = script.splitlines()
    return [
        " ".join(lines[i + 1].split()).rstrip(";")
        for i, ln in enumerate(lines)
        if ln == EMITTED_MARK
    ]


def destructive_by_parse_tree(stmt: str, login_roles: set[str]) -> str | None:
    """Why ``stmt`` is destructive by the documented definition (DROP, DROP OWNED,
    ALTER ROLE ... NOLOGIN, REVOKE of a privilege or membership from a login role), judged
    here from pglast's tree independently of the script writer; None if it is not."""
    from pglast import ast, enums, parse_sql

    def names(specs: Any) -> list[str]:
        return [
            s.rolename for s in specs or () if s.roletype == enums.RoleSpecType.ROLESPEC_CSTRING
        ]

    for raw in parse_sql(stmt):
        node = raw.stmt
        if isinstance(node, ast.DropStmt | ast.DropOwnedStmt | ast.DropRoleStmt):
            return "drop"
        if isinstance(node, ast.GrantStmt) and not node.is_grant:
            hit = set(names(node.grantees)) & login_roles
            if hit:
                return f"revoke from login role(s) {sorted(hit)}"
        if isinstance(node, ast.GrantRoleStmt) and not node.is_grant:
            hit = set(names(node.grantee_roles)) & login_roles
            if hit:
                return f"membership revoked from login role(s) {sorted(hit)}"
        if isinstance(node, ast.AlterRoleStmt):
            for opt in node.options or ():
                if opt.defname == "canlogin" and not getattr(opt.arg, "boolval", True):
                    return "NOLOGIN"
    return None


# --- catalog state (idempotency) ---------------------------------------------------------

_CLUSTER_STATE = (
    "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, "
    "rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil::text, rolconfig::text "
    "FROM pg_roles ORDER BY 1",
    "SELECT r.rolname, m.rolname, a.admin_option::text FROM pg_auth_members a "
    "JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member ORDER BY 1, 2",
    "SELECT datname, pg_get_userbyid(datdba), datacl::text FROM pg_database ORDER BY 1",
    "SELECT coalesce(d.datname, '*'), coalesce(r.rolname, '*'), s.setconfig::text "
    "FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase "
    "LEFT JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1, 2",
)
_DB_STATE = (
    "SELECT nspname, pg_get_userbyid(nspowner), nspacl::text FROM pg_namespace ORDER BY 1",
    "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner), c.relacl::text FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1",
    "SELECT attrelid::regclass::text, attname, attacl::text FROM pg_attribute "
    "WHERE attacl IS NOT NULL ORDER BY 1, 2",
    "SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.proacl::text, "
    "p.prosecdef, p.proconfig::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    "SELECT pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text, defaclobjtype, "
    "defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3",
)


def catalog_state(dc: DemoCluster) -> dict[str, list[tuple]]:
    """Everything a remediation can change: roles, memberships, settings, owners, ACLs and
    default privileges, cluster-wide and in every database that accepts connections."""
    state: dict[str, list[tuple]] = {}
    for i, q in enumerate(_CLUSTER_STATE):
        state[f"cluster {i}"] = dc.query(q)
    dbs = [r[0] for r in dc.query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]
    for db in dbs:
        for i, q in enumerate(_DB_STATE):
            state[f"{db} {i}"] = dc.query(q, dbname=db)
    return state


def state_diff(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> list[str]:
    out = []
    for key in sorted(a.keys() | b.keys()):
        ra, rb = set(a.get(key, [])), set(b.get(key, []))
        out += [f"{key}: - {r}" for r in sorted(ra - rb, key=str)]
        out += [f"{key}: + {r}" for r in sorted(rb - ra, key=str)]
    return out


# --- what the roles can do, tried by logging in ------------------------------------------


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    kind: str  # 'r' table (or 'p'), 'v' view, 'S' sequence
    probe_column: str | None  # first column that is neither identity nor generated


@dataclass(frozen=True)
class Function:
    schema: str
    name: str
    arg_types: tuple[str, ...]
    signature: str


def app_relations(dc: DemoCluster, app: str) -> list[Relation]:
    db, schemas = APPS[app]
    rows = dc.query(
        "SELECT n.nspname, c.relname, c.relkind::text, "
        "(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
        " AND NOT a.attisdropped AND a.attidentity = '' AND a.attgenerated = '' "
        " ORDER BY a.attnum LIMIT 1) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'S') ORDER BY 1, 2",
        (list(schemas),),
        dbname=db,
    )
    return [Relation(s, n, "r" if k == "p" else k, col) for s, n, k, col in rows]


def app_functions(dc: DemoCluster, app: str) -> list[Function]:
    db, schemas = APPS[app]
    rows = dc.query(
        "SELECT n.nspname, p.proname, "
        "ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) AS t), "
        "p.oid::regprocedure::text "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = ANY(%s) AND p.prokind = 'f' ORDER BY 1, 2",
        (list(schemas),),
        dbname=db,
    )
    return [Function(s, n, tuple(args), sig) for s, n, args, sig in rows]


def _probe_sql(rel: Relation | Function, privilege: str) -> Any:
    """One statement that needs exactly ``privilege`` on the object and nothing else the
    role might lack (no SELECT for the WHERE of an UPDATE, no sequence USAGE for a column
    default): PostgreSQL checks table privileges when the executor starts, so ``WHERE
    false`` and ``LIMIT 0`` still check them while touching no row."""
    from psycopg import sql

    if isinstance(rel, Function):
        args = sql.SQL(", ").join(
            sql.SQL("NULL::" + t) for t in rel.arg_types
        )  # type names from format_type
        return sql.SQL("SELECT {}.{}({})").format(
            sql.Identifier(rel.schema), sql.Identifier(rel.name), args
        )
    target = sql.Identifier(rel.schema, rel.name)
    if privilege == "SELECT":
        return sql.SQL("SELECT * FROM {} LIMIT 0").format(target)
    column = sql.Identifier(rel.probe_column or "")
    if privilege == "INSERT":  # no row, so no column default (nextval) runs
        return sql.SQL("INSERT INTO {} ({}) SELECT NULL WHERE false").format(target, column)
    if privilege == "UPDATE":
        return sql.SQL("UPDATE {} SET {} = DEFAULT WHERE false").format(target, column)
    if privilege == "DELETE":
        return sql.SQL("DELETE FROM {} WHERE false").format(target)
    if privilege == "USAGE":
        return sql.SQL("SELECT nextval(({}))").format(_regclass(rel))
    raise ValueError(privilege)


def _regclass(rel: Relation) -> Any:
    """A subquery for the relation's OID by name (no hand-made quoting of the name)."""
    from psycopg import sql

    return sql.SQL(
        "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relname = {}"
    ).format(sql.Literal(rel.schema), sql.Literal(rel.name))


def probe(conn: Any, obj: Relation | Function, privilege: str) -> str:
    """``ok`` when the statement passed the privilege check, else ``denied: ...`` or
    ``error: ...``. An integrity error (NOT NULL on DEFAULT VALUES, a foreign key) is
    raised after the check passed, so it counts as ``ok``. Always rolled back."""
    import psycopg

    try:
        conn.execute(_probe_sql(obj, privilege))
        outcome = "ok"
    except psycopg.Error as exc:
        state = exc.sqlstate or ""
        if state == "42501":  # insufficient_privilege
            outcome = "denied: " + str(exc).splitlines()[0]
        elif state.startswith("23"):  # integrity_constraint_violation class
            outcome = "ok"
        else:
            outcome = f"error: {type(exc).__name__}: " + str(exc).splitlines()[0]
    conn.rollback()
    return outcome


Capabilities = dict[
    tuple[str, str, str, str], str
]  # (database, object, privilege, role) -> outcome


def capabilities(
    dc: DemoCluster, role: str, app: str, privileges: tuple[str, ...] = DML
) -> Capabilities:
    """What ``role`` can do to every object of ``app``, tried by logging in as it."""
    import psycopg

    db = APPS[app][0]
    rels = app_relations(dc, app)
    funcs = app_functions(dc, app)
    out: Capabilities = {}
    wanted: list[tuple[Relation | Function, str]] = []
    for rel in rels:
        if rel.kind == "r":
            wanted += [(rel, p) for p in privileges if p in DML]
        elif rel.kind == "v" and "SELECT" in privileges:
            wanted.append((rel, "SELECT"))
        elif rel.kind == "S" and "USAGE" in privileges:
            wanted.append((rel, "USAGE"))
    if "EXECUTE" in privileges:
        wanted += [(f, "EXECUTE") for f in funcs]
    try:
        conn = dc.login(role, db)
    except psycopg.Error as exc:
        reason = "cannot log in: " + str(exc).strip().splitlines()[-1]
        return {(db, _label(o), p, role): reason for o, p in wanted}
    with conn:
        for obj, priv in wanted:
            out[(db, _label(obj), priv, role)] = probe(conn, obj, priv)
    return out


def _label(obj: Relation | Function) -> str:
    return obj.signature if isinstance(obj, Function) else f"{obj.schema}.{obj.name}"


def group_privileges(dc: DemoCluster, group: str, app: str) -> set[tuple[str, str, str]]:
    """(database, object, privilege) that a group role holds, read as the superuser with
    has_*_privilege (inheritance and PUBLIC included): the "before" of a login role that
    was a superuser before the fix and so could do anything."""
    db = APPS[app][0]
    out: set[tuple[str, str, str]] = set()
    for rel in app_relations(dc, app):
        privs = {"r": DML, "v": ("SELECT",), "S": ("USAGE",)}[rel.kind]
        for p in privs:
            fn = "has_sequence_privilege" if rel.kind == "S" else "has_table_privilege"
            ((ok,),) = dc.query(
                f"SELECT {fn}(%s, c.oid, %s) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                (group, p, rel.schema, rel.name),
                dbname=db,
            )
            if ok:
                out.add((db, _label(rel), p))
    for f in app_functions(dc, app):
        ((ok,),) = dc.query(
            "SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE')",
            (group, f.signature),
            dbname=db,
        )
        if ok:
            out.add((db, f.signature, "EXECUTE"))
    return out


def writer_workload(dc: DemoCluster, app: str) -> list[str]:
    """The application's own work as app_<app>, with real rows, rolled back at the end:
    what a deploy of the app would do on its first request. Returns failures."""
    import psycopg

    role, db = f"app_{app}", APPS[app][0]
    steps: dict[str, list[str]] = {
        "api": [
            "INSERT INTO api.accounts (email) VALUES ('fixrescan@example.org') RETURNING id",
            "INSERT INTO api.api_keys (account_id, key_hash) SELECT id, '\\x00'::bytea "
            "FROM api.accounts WHERE email = 'fixrescan@example.org'",
            "UPDATE api.accounts SET plan = 'pro' WHERE email = 'fixrescan@example.org'",
            "SELECT count(*) FROM api.active_accounts",
            "SELECT api.revoke_api_key(k.id) FROM api.api_keys k",
            "INSERT INTO api.sessions (token_hash, account_id, expires_at) "
            "VALUES ('\\x01'::bytea, 1, now())",
            "DELETE FROM api.sessions",
            "INSERT INTO api.heartbeats (agent) VALUES ('fixrescan')",
            "SELECT name, enabled FROM api.feature_flags",
            "DELETE FROM api.api_keys",
            "DELETE FROM api.accounts WHERE email = 'fixrescan@example.org'",
        ],
        "billing": [
            "INSERT INTO billing.customers (api_account_id, legal_name) VALUES (1, 'Fix & Rescan')",
            "INSERT INTO billing.invoices (customer_id, amount_cents) "
            "SELECT id, 1200 FROM billing.customers WHERE legal_name = 'Fix & Rescan'",
            "UPDATE billing.invoices SET status = 'open'",
            "INSERT INTO billing.payments (invoice_id, amount_cents) "
            "SELECT id, 1200 FROM billing.invoices",
            "SELECT billing.invoice_total(id) FROM billing.customers",
            "SELECT * FROM billing.monthly_revenue",
            "SELECT billing.refund(id, 100, 'fix-and-rescan') FROM billing.invoices",
            "DELETE FROM billing.refunds",
            "DELETE FROM billing.payments",
        ],
    }
    failures: list[str] = []
    try:
        conn = dc.login(role, db)
    except psycopg.Error as exc:
        return [f"{role} cannot log in to {db}: {str(exc).strip().splitlines()[-1]}"]
    with conn:
        for stmt in steps[app]:
            try:
                conn.execute(stmt)
            except psycopg.Error as exc:
                failures.append(f"{role} in {db}: {stmt!r} failed: {str(exc).splitlines()[0]}")
                break
        conn.rollback()
    return failures


def deploy_ddl(dc: DemoCluster, app: str, table: str) -> list[str]:
    """deploy_<app> logs in, SET ROLE db_owner_<app>, creates ``table`` in the app schema;
    the writer then uses it (default privileges), and deploy drops it again. Returns failures."""
    import psycopg
    from psycopg import sql

    db, (schema, *_) = APPS[app]
    deploy, owner, writer = f"deploy_{app}", f"db_owner_{app}", f"app_{app}"
    target = sql.Identifier(schema, table)
    failures: list[str] = []
    try:
        with dc.login(deploy, db) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (id bigint GENERATED ALWAYS AS IDENTITY "
                    "PRIMARY KEY, note text)"
                ).format(target)
            )
            conn.execute("RESET ROLE")
    except psycopg.Error as exc:
        return [
            f"{deploy} could not run DDL in {schema} through SET ROLE {owner}: "
            f"{str(exc).strip().splitlines()[-1]}"
        ]
    try:
        with dc.login(writer, db) as conn:
            for stmt in (
                "INSERT INTO {} (note) VALUES ('x')",
                "UPDATE {} SET note = 'y'",
                "SELECT * FROM {}",
                "DELETE FROM {}",
            ):
                try:
                    conn.execute(sql.SQL(stmt).format(target))
                except psycopg.Error as exc:
                    failures.append(
                        f"{writer} on the new table {schema}.{table}: {stmt} "
                        f"failed: {str(exc).splitlines()[0]}"
                    )
                    conn.rollback()
    except psycopg.Error as exc:
        failures.append(f"{writer} cannot log in to {db}: {str(exc).strip().splitlines()[-1]}")
    finally:
        with dc.login(deploy, db) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
            conn.execute(sql.SQL("DROP TABLE {}").format(target))
    return failures


def login_roles(dc: DemoCluster) -> set[str]:
    return {r[0] for r in dc.query("SELECT rolname FROM pg_roles WHERE rolcanlogin")}
