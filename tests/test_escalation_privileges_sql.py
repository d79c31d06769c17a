"""escalation_privileges.sql (internal.esc_effective) against its definition: the rows of
the effective_privileges view for the readers, classes and routines the edge statements
read, duplicates included.

Why: the statement writes the view's four branches out with the readers applied before
each join (filtering the view itself expanded PUBLIC's grants for every role first: 2
billion rows and 35 s on the bench's large preset). This holds the two equal on the random
catalogs of ``test_escalation_rows`` (every branch reached), as multisets, with the one
property of ``internal.inherit_closure`` the loader guarantees (``effective``'s
``_INHERIT_CLOSURE_SQL``): a (member, role) pair is valid in one scope per database, so the
view's grant-option join matches a row at most once and multiplies none."""

from __future__ import annotations

import collections
import random
from typing import Any

from pgaudit_roles.audit import escalation
from tests.test_escalation_rows import SEEDS, _catalog, _connection

BY_THE_VIEW = """
CREATE OR REPLACE TABLE internal.esc_effective AS
WITH sd AS (
    SELECT database_oid, oid, owner_oid FROM functions
    WHERE security_definer AND NOT is_system AND extension IS NULL
),
readers AS (
    SELECT p.grantee_oid AS role_oid
    FROM privileges p
    WHERE p.grantee_oid <> 0
      AND ((p.object_class = 'function' AND p.privilege = 'EXECUTE'
            AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = p.database_oid
                                           AND sd.oid = p.object_oid))
           OR (p.object_class = 'schema' AND p.privilege = 'CREATE'))
    UNION
    SELECT coalesce(CASE WHEN s.owner = 'pg_database_owner' THEN d.owner_oid END, s.owner_oid)
    FROM schemas s JOIN databases d ON d.oid = s.database_oid
    WHERE NOT s.is_system
    UNION
    SELECT owner_oid FROM sd
    UNION
    SELECT function_owner_oid FROM triggers
    UNION
    SELECT function_owner_oid FROM event_triggers
)
SELECT e.database_oid, e.object_class, e.object_oid, e.role_oid, e.privilege, e.is_system
FROM effective_privileges e
WHERE e.role_oid IN (SELECT role_oid FROM readers)
  AND ((e.object_class = 'schema' AND e.privilege IN ('USAGE', 'CREATE')
        AND (e.database_oid IN (SELECT database_oid FROM sd)
             OR e.role_oid IN (SELECT function_owner_oid FROM triggers
                               UNION SELECT function_owner_oid FROM event_triggers)))
       OR (e.object_class = 'function' AND e.privilege = 'EXECUTE'
           AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = e.database_oid
                                          AND sd.oid = e.object_oid)))
"""
"""The statement as it was, over the view: the definition the rewrite must keep."""


def _rows(con: Any, sql: str) -> collections.Counter[tuple[Any, ...]]:
    con.execute(sql)
    return collections.Counter(con.execute("SELECT * FROM internal.esc_effective").fetchall())


def _one_scope_per_database(con: Any) -> None:
    """The random closure as the loader builds it: a per-database row only where the
    cluster-wide pair has none, each (database, member, role) once."""
    con.execute("""
        CREATE OR REPLACE TABLE internal.inherit_closure AS
        SELECT DISTINCT ON (database_oid, member_oid, role_oid) *
        FROM internal.inherit_closure o
        WHERE o.database_oid IS NULL
           OR NOT EXISTS (SELECT 1 FROM internal.inherit_closure c
                          WHERE c.database_oid IS NULL AND c.member_oid = o.member_oid
                            AND c.role_oid = o.role_oid)""")


def test_statement_equals_the_view_filtered() -> None:
    seen: set[str] = set()
    for seed in range(SEEDS):
        rng = random.Random(seed)
        v = rng.choice([130000, 150000, 160000, 180000, 999999])
        con = _connection()
        _catalog(con, rng, v)
        _one_scope_per_database(con)
        expected = _rows(con, BY_THE_VIEW)
        assert _rows(con, escalation._sql("escalation_privileges.sql")) == expected, seed
        seen |= {f"{cls}:{priv}" for _db, cls, _o, _r, priv, _s in expected}
        if any(n > 1 for n in expected.values()):
            seen.add("duplicates")
        vias = con.execute(
            "SELECT DISTINCT via FROM effective_privileges WHERE object_class IN "
            "('schema', 'function')"
        ).fetchall()
        seen |= {f"via:{v[0]}" for v in vias}
        con.close()
    # the catalogs reach every class, every branch of the view and duplicate rows
    assert seen >= {
        "schema:USAGE",
        "schema:CREATE",
        "function:EXECUTE",
        "duplicates",
        "via:direct",
        "via:role",
        "via:public",
        "via:superuser",
    }, seen
