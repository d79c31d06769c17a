"""A finding about a table or a policy keeps its fingerprint when the table changes owner.

Why: baselines and ``diff`` match findings by fingerprint (rule + database + object +
role). The row-level security rules report a table or a policy; the table's owner is a
detail of it, not who the finding is about. When the owner was the finding's ``role``, a
fix or a migration that moved the table to another owner (ALTER TABLE ... OWNER TO, the
usual step of the ownership rules' own fixes) made a baseline see the same unresolved
problem as one new finding plus one resolved, and the new one gated. Real server, 13-18.
"""

from __future__ import annotations

from typing import Any

from pgaudit_roles.collect.collector import collect
from pgaudit_roles.config import Config
from pgaudit_roles.evaluate.engine import evaluate

RLS_RULES = ("PGR-RLS-001", "PGR-RLS-002", "PGR-RLS-003", "PGR-RLS-005", "PGR-RLS-006")


def _fingerprints(pg: Any, db: str, rules: list[Any]) -> dict[str, set[str]]:
    # findings only: no inventory, and only the tables the rules read (test_build_plan
    # proves the findings equal to the full build's)
    result = evaluate(collect(pg.conninfo(), databases=[db]), rules, Config(), inventory=False)
    return {
        rr.rule.id: {f.fingerprint for f in rr.findings if f.database == db}
        for rr in result.results
    }


def test_owner_change_keeps_rls_findings(pg: Any, fresh_db: str, builtin_rules: tuple) -> None:
    first, second, app = pg.unique("rlso_a"), pg.unique("rlso_b"), pg.unique("app_rlso")
    rules = [r for r in builtin_rules if r.id in RLS_RULES]
    pg.execute(
        f"CREATE ROLE {first} NOLOGIN; CREATE ROLE {second} NOLOGIN; CREATE ROLE {app} LOGIN; "
        f"GRANT {first}, {second} TO {app};"  # the app can act as either owner (RLS-003)
    )
    try:
        pg.execute(
            # RLS-001: policies, row-level security off
            "CREATE TABLE t_off (tenant int); "
            "CREATE POLICY p_off ON t_off USING (tenant = 1); "
            # RLS-002 and RLS-005: an open UPDATE policy for PUBLIC without WITH CHECK
            "CREATE TABLE t_open (tenant int); ALTER TABLE t_open ENABLE ROW LEVEL SECURITY; "
            "CREATE POLICY p_open ON t_open FOR UPDATE TO PUBLIC USING (true); "
            # RLS-006: row-level security on, no policy
            "CREATE TABLE t_none (tenant int); ALTER TABLE t_none ENABLE ROW LEVEL SECURITY; "
            + "".join(f"ALTER TABLE {t} OWNER TO {first}; " for t in ("t_off", "t_open", "t_none")),
            dbname=fresh_db,
        )
        before = _fingerprints(pg, fresh_db, rules)
        for rid in RLS_RULES:
            assert before.get(rid), f"{rid}: the layout should break it: {before}"
        pg.execute(
            "".join(f"ALTER TABLE {t} OWNER TO {second}; " for t in ("t_off", "t_open", "t_none")),
            dbname=fresh_db,
        )
        after = _fingerprints(pg, fresh_db, rules)
        for rid in RLS_RULES:
            assert after[rid] == before[rid], (
                f"{rid}: the owner change made {len(after[rid] - before[rid])} finding(s) new "
                f"and {len(before[rid] - after[rid])} resolved"
            )
    finally:
        pg.drop_database(fresh_db)
        pg.execute(f"DROP ROLE IF EXISTS {app}, {first}, {second}")
