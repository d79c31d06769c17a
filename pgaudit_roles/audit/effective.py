"""Membership closure and effective privileges, computed the way PostgreSQL decides them.

Why its own module: this is the part that must agree with ``has_*_privilege()`` on every
version (the oracle test proves it), so its rules are written down here once:

- ``aclmask()``: a role holds a privilege when an ACL entry grants it to PUBLIC, to the
  role, or to a role whose privileges it has (``has_privs_of_role``: the inheriting
  closure). The owner has no implicit privileges beyond its own ACL entry (owners can
  revoke their own), but always holds the grant options.
- superusers pass every check; superuser status itself is not inherited.
- inheritance: 13-15 every member on the chain has rolinherit (the collector stores that
  as each membership's inherit_option); 16+ every grant on the chain has INHERIT TRUE,
  several grant rows of one pair OR together. SET ROLE: 13-15 any chain, 16+ SET TRUE.
- ``pg_database_owner`` (14+): an implicit member edge from the current database's owner,
  always inheriting on 16+ and following the owner's rolinherit on 14-15.
- ``pg_read_all_data``/``pg_write_all_data`` (14+) and ``pg_maintain`` (17+) confer their
  privileges without ACL entries (``acl_defaults.VIRTUAL_GRANTS``).
- nobody but a superuser may INSERT/UPDATE/DELETE/TRUNCATE a system catalog table.

Everything is set-based SQL in DuckDB: the closure is a breadth-first search with one
statement per level (the membership graph's depth, a handful), never a loop per object.
A small membership graph's closure is computed in Python instead (``closure_small``, the
same rules): there DuckDB's per-statement cost dominated the load's fixed cost.
"""

from __future__ import annotations

from typing import Any

from . import closure_small
from .acl_defaults import SYSTEM_CATALOG_DENIED, SYSTEM_CATALOG_OID_LIMIT

PDO = closure_small.PDO

SMALL_CLOSURE_ROLES = 1_000
"""Up to this many roles, and :data:`SMALL_CLOSURE_MEMBERSHIPS` membership rows, the
closure is computed in Python (``closure_small``) while it stays under
:data:`SMALL_CLOSURE_PAIRS` pairs; beyond, by the SQL search. Why: on a small graph each of
the SQL path's dozen statements costs more than its work (the bench's small preset: 82 ms
in SQL, 12 ms in Python); on a large one set-based SQL wins and the rows should not pass
through Python. The bench's medium and large presets (2,000 and 20,000 roles) stay on the
SQL path."""

SMALL_CLOSURE_MEMBERSHIPS = 2_000
"""See :data:`SMALL_CLOSURE_ROLES`."""

SMALL_CLOSURE_PAIRS = 20_000
"""The Python path's budget of (member, role) pairs found by its searches."""

_INHERIT_CLOSURE_SQL = """
    CREATE OR REPLACE TABLE internal.inherit_closure AS
    SELECT database_oid, member_oid, role_oid, inherit_depth, inherit_path
    FROM role_closure WHERE database_oid IS NULL AND inherits
    UNION ALL
    SELECT o.database_oid, o.member_oid, o.role_oid, o.inherit_depth, o.inherit_path
    FROM role_closure o
    LEFT JOIN role_closure c ON c.database_oid IS NULL AND c.member_oid = o.member_oid
         AND c.role_oid = o.role_oid
    WHERE o.database_oid IS NOT NULL AND o.inherits AND NOT coalesce(c.inherits, false)"""
"""What effective_privileges joins: the inheriting pairs, each valid in exactly one
scope per database, so no anti-join is needed at query time. A per-database row is kept
only where the cluster-wide pair does not already inherit."""

_INHERIT_CLOSURE_ALL_SQL = """
    CREATE OR REPLACE TABLE internal.inherit_closure AS
    SELECT database_oid, member_oid, role_oid, inherit_depth, inherit_path
    FROM role_closure WHERE inherits"""
""":data:`_INHERIT_CLOSURE_SQL` when no per-database row inherits a pair the cluster-wide
row already inherits (the Python path knows): every inheriting row is kept."""


def build_role_closure(con: Any, server_version_num: int | None, *, small: bool = True) -> str:
    """Fill ``role_closure`` from ``memberships`` and ``internal.roles_raw``/``databases_raw``.

    Expects the table ``role_closure`` to exist (created from the spec). Three searches:
    any membership chain, inheriting chains, SET-able chains; then one row per pair, plus
    per-database rows for what pg_database_owner adds. Also creates
    ``internal.inherit_closure``. Returns the path taken, "python" for a small graph (see
    :data:`SMALL_CLOSURE_ROLES`) or "sql"; ``small=False`` forces the SQL path (the tests
    compare the two on the same graphs).
    """
    v16 = server_version_num is None or server_version_num >= 160000
    if small and _small_closure(con, v16):
        return "python"
    n_roles = con.execute("SELECT count(*) FROM internal.roles_raw").fetchone()[0]
    # One edge per (member, role): options OR'ed over the pair's grant rows (16+). On 13-15
    # inheritance is the member's rolinherit, taken from roles (the source of truth).
    inh = "bool_or(m.inherit_option)" if v16 else "bool_or(r.inherit)"
    setopt = "bool_or(m.set_option)" if v16 else "true"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _edges AS
        SELECT m.member_oid, m.role_oid, g.name AS role_name,
               coalesce({inh}, false) AS inh, coalesce({setopt}, false) AS setopt
        FROM memberships m
        JOIN internal.roles_raw r ON r.oid = m.member_oid
        JOIN internal.roles_raw g ON g.oid = m.role_oid
        GROUP BY m.member_oid, m.role_oid, g.name""")  # noqa: S608 - fixed fragments only
    _bfs(con, n_roles)

    con.execute("""
        INSERT INTO role_closure BY NAME
        SELECT NULL AS database, NULL AS database_oid, rm.name AS member, rr.name AS role,
               a.member_oid, a.role_oid, a.depth, a.path,
               i.depth IS NOT NULL AS inherits, i.depth AS inherit_depth, i.path AS inherit_path,
               s.depth IS NOT NULL AS can_set, s.path AS set_path
        FROM _c_any a
        LEFT JOIN _c_inh i ON i.member_oid = a.member_oid AND i.role_oid = a.role_oid
        LEFT JOIN _c_set s ON s.member_oid = a.member_oid AND s.role_oid = a.role_oid
        JOIN internal.roles_raw rm ON rm.oid = a.member_oid
        JOIN internal.roles_raw rr ON rr.oid = a.role_oid""")
    _database_owner_rows(con, server_version_num)
    con.execute(_INHERIT_CLOSURE_SQL)
    con.execute(
        "DROP VIEW IF EXISTS _c_any; DROP VIEW IF EXISTS _c_inh; DROP VIEW IF EXISTS _c_set; "
        "DROP TABLE IF EXISTS _c; DROP TABLE IF EXISTS _edges"
    )
    return "sql"


def _small_closure(con: Any, v16: bool) -> bool:
    """The closure by ``closure_small``, its rows passed as one text to one statement;
    False (nothing written) when the graph needs the SQL path. The inputs are read with a
    LIMIT one past the bound, so a large snapshot costs two short reads here."""
    roles = con.execute(
        "SELECT oid, name, inherit, predefined FROM internal.roles_raw LIMIT ?",
        [SMALL_CLOSURE_ROLES + 1],
    ).fetchall()
    if len(roles) > SMALL_CLOSURE_ROLES:
        return False
    members = con.execute(
        "SELECT member_oid, role_oid, inherit_option, set_option FROM memberships LIMIT ?",
        [SMALL_CLOSURE_MEMBERSHIPS + 1],
    ).fetchall()
    if len(members) > SMALL_CLOSURE_MEMBERSHIPS:
        return False
    dbs = con.execute("SELECT name, oid, owner_oid FROM internal.databases_raw").fetchall()
    try:
        closure = closure_small.compute(roles, members, dbs, v16, SMALL_CLOSURE_PAIRS)
    except closure_small.TooLarge:
        return False
    encoded = None if closure is None else closure_small.encode(closure, (r[1] for r in roles))
    if closure is None or encoded is None:
        return False
    con.execute(_DECODE_ROLE_CLOSURE_SQL, list(encoded))
    con.execute(
        _INHERIT_CLOSURE_ALL_SQL if closure.keeps_all_inheriting() else _INHERIT_CLOSURE_SQL
    )
    return True


# role_closure's rows from the text closure_small.encode makes of the Python path's closure:
# $1 the rows, $2, $3 and $4 the separators of rows, of fields and of a path's names; an
# empty field is NULL. member and role are the path's ends.
_DECODE_ROLE_CLOSURE_SQL = """
    INSERT INTO role_closure BY NAME
    SELECT nullif(f[1], '') AS database, nullif(f[2], '')::BIGINT AS database_oid,
           p[1] AS member, p[-1] AS role, f[3]::BIGINT AS member_oid,
           f[4]::BIGINT AS role_oid, f[5]::INTEGER AS depth, p AS path,
           f[7] <> '' AS inherits, nullif(f[7], '')::INTEGER AS inherit_depth,
           CASE WHEN f[8] <> '' THEN string_split(f[8], $4) END AS inherit_path,
           f[9] <> '' AS can_set,
           CASE WHEN f[9] <> '' THEN string_split(f[9], $4) END AS set_path
    FROM (SELECT f, string_split(f[6], $4) AS p
          FROM (SELECT string_split(unnest(string_split($1, $2)), $3) AS f WHERE $1 <> ''))"""


def _bfs(con: Any, n_roles: int) -> None:
    """Shortest chains from every role for the three searches at once, into ``_c`` (viewed
    per search as ``_c_any``, ``_c_inh``, ``_c_set``).

    One statement per depth level for all three: a level reads the previous one from ``_c``
    itself and appends to it, and the INSERT's row count says when every search is done.
    Each search is exactly the breadth-first search it would be alone (a search whose
    level is empty adds nothing afterwards); among chains of one length the smallest name
    list is kept (``min``), as before.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _c AS
        SELECT m.mode, r.oid AS member_oid, r.oid AS role_oid, 0 AS depth, [r.name] AS path
        FROM internal.roles_raw r CROSS JOIN (VALUES ('any'), ('inh'), ('set')) m(mode)""")
    for depth in range(1, n_roles + 1):
        added = con.execute(f"""
            INSERT INTO _c
            SELECT f.mode, f.member_oid, e.role_oid, {depth} AS depth,
                   min(list_append(f.path, e.role_name)) AS path
            FROM _c f JOIN _edges e ON e.member_oid = f.role_oid
            WHERE f.depth = {depth - 1}
              AND (f.mode = 'any' OR (f.mode = 'inh' AND e.inh) OR (f.mode = 'set' AND e.setopt))
              AND NOT EXISTS (SELECT 1 FROM _c c
                              WHERE c.mode = f.mode AND c.member_oid = f.member_oid
                                AND c.role_oid = e.role_oid)
            GROUP BY f.mode, f.member_oid, e.role_oid""").fetchone()[0]  # noqa: S608
        if not added:
            break
    con.execute("""
        CREATE OR REPLACE TEMP VIEW _c_any AS
        SELECT member_oid, role_oid, depth, path FROM _c WHERE mode = 'any';
        CREATE OR REPLACE TEMP VIEW _c_inh AS
        SELECT member_oid, role_oid, depth, path FROM _c WHERE mode = 'inh';
        CREATE OR REPLACE TEMP VIEW _c_set AS
        SELECT member_oid, role_oid, depth, path FROM _c WHERE mode = 'set';""")


def _database_owner_rows(con: Any, server_version_num: int | None) -> None:
    """Per-database rows for pairs that need the implicit owner -> pg_database_owner edge."""
    v16 = server_version_num is None or server_version_num >= 160000
    inh = "true" if v16 else "o.inherit"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _pdo_edges AS
        SELECT d.name AS database, d.oid AS database_oid, d.owner_oid, p.oid AS pdo_oid,
               {inh} AS inh
        FROM internal.databases_raw d
        JOIN internal.roles_raw o ON o.oid = d.owner_oid
        JOIN internal.roles_raw p ON p.name = '{PDO}' AND p.predefined""")  # noqa: S608
    # the three searches of _bfs through the owner's implicit edge, in one statement: a
    # chain to the owner, the edge, a chain from pg_database_owner (SET ROLE follows it
    # whatever the owner's inheritance)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _p AS
        SELECT mode, database, database_oid, member_oid, role_oid, depth, path FROM (
            SELECT a.mode, e.database, e.database_oid, a.member_oid, b.role_oid,
                   a.depth + 1 + b.depth AS depth, list_concat(a.path, b.path) AS path,
                   row_number() OVER (PARTITION BY a.mode, e.database_oid, a.member_oid,
                                                   b.role_oid
                                      ORDER BY a.depth + 1 + b.depth,
                                               list_concat(a.path, b.path)) AS rn
            FROM _pdo_edges e
            JOIN _c a ON a.role_oid = e.owner_oid
            JOIN _c b ON b.mode = a.mode AND b.member_oid = e.pdo_oid
            WHERE a.mode <> 'inh' OR e.inh
        ) WHERE rn = 1;
        CREATE OR REPLACE TEMP VIEW _p_any AS SELECT * EXCLUDE (mode) FROM _p WHERE mode = 'any';
        CREATE OR REPLACE TEMP VIEW _p_inh AS SELECT * EXCLUDE (mode) FROM _p WHERE mode = 'inh';
        CREATE OR REPLACE TEMP VIEW _p_set AS SELECT * EXCLUDE (mode) FROM _p WHERE mode = 'set';
        """)
    con.execute("""
        INSERT INTO role_closure BY NAME
        WITH keys AS (
            SELECT database, database_oid, member_oid, role_oid FROM _p_any
            UNION SELECT database, database_oid, member_oid, role_oid FROM _p_inh
            UNION SELECT database, database_oid, member_oid, role_oid FROM _p_set
        ), best AS (
            SELECT k.database, k.database_oid, k.member_oid, k.role_oid,
                   CASE WHEN ca.depth IS NULL OR pa.depth < ca.depth THEN pa.depth ELSE ca.depth END AS depth,
                   CASE WHEN ca.depth IS NULL OR pa.depth < ca.depth THEN pa.path ELSE ca.path END AS path,
                   CASE WHEN ci.depth IS NULL OR pi.depth < ci.depth THEN pi.depth ELSE ci.depth END AS inherit_depth,
                   CASE WHEN ci.depth IS NULL OR pi.depth < ci.depth THEN pi.path ELSE ci.path END AS inherit_path,
                   CASE WHEN cs.depth IS NULL OR ps.depth < cs.depth THEN ps.path ELSE cs.path END AS set_path,
                   (ca.depth IS NULL AND pa.depth IS NOT NULL)
                   OR (ci.depth IS NULL AND pi.depth IS NOT NULL)
                   OR (cs.depth IS NULL AND ps.depth IS NOT NULL) AS adds
            FROM keys k
            LEFT JOIN _p_any pa USING (database_oid, member_oid, role_oid)
            LEFT JOIN _p_inh pi USING (database_oid, member_oid, role_oid)
            LEFT JOIN _p_set ps USING (database_oid, member_oid, role_oid)
            LEFT JOIN _c_any ca ON ca.member_oid = k.member_oid AND ca.role_oid = k.role_oid
            LEFT JOIN _c_inh ci ON ci.member_oid = k.member_oid AND ci.role_oid = k.role_oid
            LEFT JOIN _c_set cs ON cs.member_oid = k.member_oid AND cs.role_oid = k.role_oid
        )
        SELECT b.database, b.database_oid, rm.name AS member, rr.name AS role,
               b.member_oid, b.role_oid, b.depth, b.path,
               b.inherit_depth IS NOT NULL AS inherits, b.inherit_depth, b.inherit_path,
               b.set_path IS NOT NULL AS can_set, b.set_path
        FROM best b
        JOIN internal.roles_raw rm ON rm.oid = b.member_oid
        JOIN internal.roles_raw rr ON rr.oid = b.role_oid
        WHERE b.adds""")
    con.execute(
        "DROP VIEW IF EXISTS _p_any; DROP VIEW IF EXISTS _p_inh; DROP VIEW IF EXISTS _p_set; "
        "DROP TABLE IF EXISTS _p; DROP TABLE IF EXISTS _pdo_edges"
    )


# An inheriting closure row usable for an object in database ``obj.database_oid``: the
# cluster-wide row, or the row that pg_database_owner adds in that database (at most one of
# the two exists per pair, see internal.inherit_closure).
def _closure_join(alias: str, obj: str, role_col: str) -> str:
    return f"""JOIN internal.inherit_closure {alias}
        ON {alias}.role_oid = {role_col}
       AND ({alias}.database_oid IS NULL OR {alias}.database_oid = {obj}.database_oid)"""


_DENIED = ", ".join(f"'{p}'" for p in SYSTEM_CATALOG_DENIED)
_SYSCAT = (
    f"(x.object_class = 'relation' AND x.object_oid < {SYSTEM_CATALOG_OID_LIMIT} "
    f"AND x.kind <> 'view' AND x.privilege IN ({_DENIED}))"
)

EFFECTIVE_PRIVILEGES_SQL = f"""
CREATE OR REPLACE VIEW effective_privileges AS
WITH subjects AS (
    SELECT oid, name, superuser FROM roles
    WHERE NOT (predefined AND starts_with(name, 'pg_'))
),
granted AS (
    SELECT p.database, p.database_oid, s.name AS role, s.oid AS role_oid, p.object_class,
           p.object_oid, p.subid, p.kind, p.schema, p.object_name, p.identity, p.column_name,
           p.privilege,
           CASE WHEN p.grantee_oid = p.owner_oid THEN 'owner'
                WHEN c.inherit_depth = 0 THEN 'direct' ELSE 'role' END AS via,
           p.grantee AS via_role, c.inherit_path AS path,
           p.grantable OR p.grantee_oid = p.owner_oid AS grantable, p.is_system, p.owner_oid
    FROM privileges p
    {_closure_join("c", "p", "p.grantee_oid")}
    JOIN subjects s ON s.oid = c.member_oid AND NOT s.superuser
    WHERE p.grantee_oid <> 0
),
public_granted AS (
    SELECT p.database, p.database_oid, s.name AS role, s.oid AS role_oid, p.object_class,
           p.object_oid, p.subid, p.kind, p.schema, p.object_name, p.identity, p.column_name,
           p.privilege, 'public' AS via, 'PUBLIC' AS via_role, [s.name, 'PUBLIC'] AS path,
           p.grantable, p.is_system, p.owner_oid
    FROM privileges p JOIN subjects s ON NOT s.superuser
    WHERE p.grantee_oid = 0
),
predefined AS (
    SELECT o.database, o.database_oid, s.name AS role, s.oid AS role_oid, o.object_class,
           o.object_oid, 0 AS subid, o.kind, o.schema, o.object_name, o.identity,
           NULL::VARCHAR AS column_name, v.privilege, 'predefined' AS via, v.role AS via_role,
           c.inherit_path AS path, false AS grantable, o.is_system, o.owner_oid
    FROM acl_objects o
    JOIN predefined_privileges v
      ON v.object_class = o.object_class AND (v.kind IS NULL OR v.kind = o.kind)
    JOIN roles pr ON pr.name = v.role AND pr.predefined
    {_closure_join("c", "o", "pr.oid")}
    JOIN subjects s ON s.oid = c.member_oid AND NOT s.superuser
),
superusers AS (
    SELECT o.database, o.database_oid, s.name AS role, s.oid AS role_oid, o.object_class,
           o.object_oid, 0 AS subid, o.kind, o.schema, o.object_name, o.identity,
           NULL::VARCHAR AS column_name, t.privilege, 'superuser' AS via, s.name AS via_role,
           [s.name] AS path, true AS grantable, o.is_system
    FROM acl_objects o
    JOIN privilege_types t
      ON t.object_class = o.object_class AND (t.kind IS NULL OR t.kind = o.kind)
    JOIN subjects s ON s.superuser
)
SELECT x.database, x.database_oid, x.role, x.role_oid, x.object_class, x.object_oid, x.subid,
       x.kind, x.schema, x.object_name, x.identity, x.column_name, x.privilege, x.via,
       x.via_role, x.path,
       -- whoever has the owner's privileges holds every grant option (aclmask)
       x.grantable OR oc.member_oid IS NOT NULL AS grantable, x.is_system
FROM (SELECT * FROM granted UNION ALL SELECT * FROM public_granted
      UNION ALL SELECT * FROM predefined) x
LEFT JOIN internal.inherit_closure oc
       ON oc.member_oid = x.role_oid AND oc.role_oid = x.owner_oid
      AND (oc.database_oid IS NULL OR oc.database_oid = x.database_oid)
WHERE NOT {_SYSCAT}
UNION ALL
SELECT database, database_oid, role, role_oid, object_class, object_oid, subid, kind,
       schema, object_name, identity, column_name, privilege, via, via_role, path,
       grantable, is_system
FROM superusers
"""  # noqa: S608 - composed from constants of this module
