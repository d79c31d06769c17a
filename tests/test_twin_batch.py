"""The twin's build sends a phase's statements many per round trip (twin/__init__.py
``_execute_batch``), on real servers 13-18. What it must keep from running them one by one:

* the order: a REVOKE that lists the twin's current grantees reads them after every
  statement before it ran (a GRANT earlier in the same transaction is revoked too);
* SET ROLE / RESET ROLE around a step, and its pre and post statements;
* a statement ending in a ``--`` comment does not swallow the next one;
* a failing statement rolls the batch back, the steps run one by one, and exactly the
  failing one is reported with the server's error while the others take effect.
"""

from __future__ import annotations

from typing import Any, cast

import psycopg
import pytest
from conftest import VERSIONS, install_for

from pgaudit_roles import twin as twin_mod
from pgaudit_roles.core.localpg import LocalCluster
from pgaudit_roles.twin.plan import Plan, Step

BY_VERSION = pytest.mark.parametrize("major", VERSIONS, ids=[f"pg{v}" for v in VERSIONS])


def _build(cluster: LocalCluster, steps: list[Step]) -> twin_mod.Twin:
    tw = twin_mod.Twin(source=cast(Any, None), cluster=cluster)
    p = Plan()
    p.add("roles", [Step(None, 'CREATE ROLE "r one"'), Step(None, "CREATE ROLE r2 NOLOGIN")])
    p.add("grants", steps)
    twin_mod._run(tw, p)
    return tw


def _query(cluster: LocalCluster, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _steps(fail: bool) -> list[Step]:
    steps = [
        Step("postgres", "CREATE TABLE t1 (x int) -- a trailing comment"),
        Step("postgres", 'GRANT USAGE ON SCHEMA public TO "r one"'),
        Step(
            "postgres",
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            existing=("schema", "public", "public", None),
        ),
        Step(
            "postgres",
            "CREATE TABLE t2 (x int)",
            as_role="r2",
            pre=["GRANT USAGE, CREATE ON SCHEMA public TO r2"],
            post=["REVOKE USAGE, CREATE ON SCHEMA public FROM r2"],
        ),
    ]
    if fail:
        steps.insert(1, Step("postgres", "GRANT SELECT ON t1 TO no_such_role", ("grant", "x")))
    return steps


@BY_VERSION
@pytest.mark.parametrize("fail", [False, True], ids=["clean", "one-fails"])
def test_batched_build_runs_as_step_by_step(major: int, fail: bool) -> None:
    with LocalCluster(install_for(major)) as cluster:
        tw = _build(cluster, _steps(fail))
        # the REVOKE saw the GRANT made before it in the same transaction
        assert _query(cluster, "SELECT has_schema_privilege('r one', 'public', 'USAGE')") == [
            (False,)
        ]
        assert _query(
            cluster,
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "WHERE c.relname IN ('t1', 't2') ORDER BY 1",
        ) == [("t1", "postgres"), ("t2", "r2")]
        # the post statement ran after the SET ROLE step, as the superuser
        assert _query(cluster, "SELECT has_schema_privilege('r2', 'public', 'CREATE')") == [
            (False,)
        ]
        if fail:
            assert [(f.key, f.sql) for f in tw.failures] == [
                (("grant", "x"), "GRANT SELECT ON t1 TO no_such_role")
            ]
            assert 'role "no_such_role" does not exist' in tw.failures[0].error
        else:
            assert tw.failures == []
