"""lint without a server: placeholders shown as written, psql \\if branches, Liquibase dbms
filters and DROP POLICY (from the policies the migrations create). Each test fails on the
lint that read every branch and every changeset as PostgreSQL, showed ``${x}``'s parse
stand-in and had no DROP POLICY check."""

from __future__ import annotations

import json
from pathlib import Path

from pgaudit_roles.config import Config
from pgaudit_roles.evaluate.rules import load_rules
from pgaudit_roles.lint.order import order_paths
from pgaudit_roles.lint.psql import condition, lex, parse_bool
from pgaudit_roles.lint.run import LintOptions, lint
from pgaudit_roles.lint.source import read_sources

RULES = load_rules()


def _lint(paths: list[Path], root: Path) -> object:
    return lint(LintOptions(paths=paths, twin=False, root=root), RULES, Config())


def _write(root: Path, name: str, text: str) -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


# --- placeholders ----------------------------------------------------------------------


def test_flyway_placeholders_are_shown_as_written(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "V1__roles.sql",
        "CREATE ROLE ${APP_USER} LOGIN SUPERUSER;\nCREATE SCHEMA ${schema};\n"
        "GRANT ALL ON SCHEMA ${schema} TO PUBLIC;\n",
    )
    result = _lint([tmp_path], tmp_path)
    by_rule = {f.rule_id: f for f in result.findings}
    assert "Role ${APP_USER} is created" in by_rule["PGR-LINT-002"].message
    assert by_rule["PGR-LINT-002"].role == "${APP_USER}"
    assert "schema ${schema}" in by_rule["PGR-LINT-004"].message
    text = json.dumps([(f.message, f.role, f.object_name, f.details) for f in result.findings])
    assert "__app_user_" not in text.lower() and "__schema_" not in text


# --- psql \if ----------------------------------------------------------------------------


def test_psql_boolean_words_and_known_conditions() -> None:
    assert [parse_bool(w) for w in ("t", "FALSE", "on", "of", "o", "1", "0", "yes", "maybe")] == [
        True,
        False,
        True,
        False,
        None,
        True,
        False,
        True,
        None,
    ]
    known = {"flag": "off"}
    assert condition(":flag", known, set()) is False
    assert condition(":'flag'", known, set()) is False
    assert condition(":flag", known, {"=flag"}) is None  # a \gset may have set it
    assert condition(":other", known, set()) is None  # psql -v: only the run knows
    assert condition(":{?flag}", known, set()) is True
    assert condition("`test -f x`", known, set()) is None


def test_if_branches_known_and_conditional(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "roles.sql",
        "\\set with_admin false\n"
        "SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_shop') AS missing \\gset\n"
        "\\if :missing\n"  # line 3: only the run knows
        "CREATE ROLE app_shop LOGIN SUPERUSER;\n"
        "\\else\n"
        "ALTER ROLE app_shop LOGIN CREATEROLE;\n"
        "\\endif\n"
        "\\if :with_admin\n"  # line 8: known false
        "CREATE ROLE admin_shop SUPERUSER;\n"
        "\\elif true\n"
        "GRANT ALL ON SCHEMA public TO PUBLIC;\n"
        "\\else\n"
        "CREATE ROLE never_shop SUPERUSER;\n"
        "\\endif\n",
    )
    src = read_sources([f], tmp_path)
    by_line = {st.line: st for st in src.statements}
    assert sorted(by_line) == [2, 4, 6, 11]  # lines 9 and 13 never run
    assert by_line[4].conditional and "'if :missing' branch at line 3" in by_line[4].conditional
    assert by_line[6].conditional and "'else' branch at line 5" in by_line[6].conditional
    assert not by_line[4].twin_skip and by_line[6].twin_skip  # the twin applies one branch
    assert by_line[11].conditional is None and not by_line[11].twin_skip
    assert any("roles.sql:8: psql \\if :with_admin branch never runs" in n for n in src.notes)

    result = _lint([f], tmp_path)
    at = {(x.line, x.rule_id): x for x in result.findings}
    assert (9, "PGR-LINT-002") not in at and (13, "PGR-LINT-002") not in at
    assert at[(4, "PGR-LINT-002")].details["conditional"] == by_line[4].conditional
    assert (
        "(conditional: only when the psql 'if :missing' branch" in at[(4, "PGR-LINT-002")].message
    )
    assert "conditional" in at[(6, "PGR-LINT-003")].details
    assert "conditional" not in at[(11, "PGR-LINT-004")].details


def test_included_file_inherits_its_branch(tmp_path: Path) -> None:
    _write(tmp_path, "inc/grants.sql", "GRANT ALL ON SCHEMA public TO PUBLIC;\n")
    f = _write(tmp_path, "main.sql", "\\if :{?seed}\n\\ir inc/grants.sql\n\\endif\n")
    (st,) = read_sources([f], tmp_path).statements
    assert st.file == "inc/grants.sql" and st.conditional is not None


# --- Liquibase dbms ----------------------------------------------------------------------

_ORACLE_AND_PG = (
    "--liquibase formatted sql\n"
    "--changeset ann:1 dbms:oracle\n"
    "GRANT DBA TO app_shop;\n"
    "--rollback REVOKE DBA FROM app_shop;\n"
    "--changeset ann:1-pg dbms:postgresql,h2\n"
    "CREATE ROLE app_shop LOGIN SUPERUSER;\n"
    "--changeset ann:2 dbms:!postgresql\n"
    "CREATE USER shop IDENTIFIED BY x;\n"
    "--changeset ann:3 dbms:!oracle\n"
    "GRANT ALL ON SCHEMA public TO PUBLIC;\n"
)


def test_liquibase_changesets_for_other_databases_are_not_linted(tmp_path: Path) -> None:
    _write(tmp_path, "db/001_roles.sql", _ORACLE_AND_PG)
    result = _lint([tmp_path / "db"], tmp_path)  # Oracle syntax would not even parse
    assert {(f.line, f.rule_id) for f in result.findings} >= {
        (6, "PGR-LINT-002"),
        (10, "PGR-LINT-004"),
    }
    assert not [f for f in result.findings if f.line in (3, 8)]
    notes = result.meta["lint"]["notes"]
    assert any("001_roles.sql:2: Liquibase changeset ann:1 is for dbms oracle" in n for n in notes)
    assert result.meta["lint"]["statements"] == 2


def test_liquibase_sql_files_for_other_databases_are_not_run(tmp_path: Path) -> None:
    body = "GRANT ALL ON SCHEMA public TO PUBLIC;\n"
    for name in ("pg/grants.sql", "oracle/grants.sql", "oracle/extra.sql", "h2/seed.sql"):
        _write(tmp_path, f"xml/{name}", body)
        _write(tmp_path, f"yaml/{name}", body)
        _write(tmp_path, f"json/{name}", body)
    _write(
        tmp_path,
        "xml/changelog.xml",
        '<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog">'
        '<changeSet id="1" author="a" dbms="oracle"><sqlFile path="oracle/grants.sql"/>'
        '<sqlFile path="oracle/extra.sql"/></changeSet>'
        '<changeSet id="2" author="a"><sqlFile path="pg/grants.sql" dbms="postgresql"/>'
        '<sqlFile path="h2/seed.sql" dbms="h2"/></changeSet></databaseChangeLog>',
    )
    _write(
        tmp_path,
        "yaml/db.changelog.yaml",
        "databaseChangeLog:\n"
        "  - changeSet:\n      id: 1\n      author: a\n      dbms: oracle\n      changes:\n"
        "        - sqlFile:\n            path: oracle/grants.sql\n"
        "        - sqlFile:\n            path: oracle/extra.sql\n"
        "  - changeSet:\n      id: 2\n      author: a\n      changes:\n"
        "        - sqlFile:\n            path: pg/grants.sql\n"
        "        - sqlFile:\n            dbms: h2\n            path: h2/seed.sql\n",
    )
    _write(
        tmp_path,
        "json/changelog.json",
        json.dumps(
            {
                "databaseChangeLog": [
                    {
                        "changeSet": {
                            "id": "1",
                            "dbms": "oracle",
                            "changes": [
                                {"sqlFile": {"path": "oracle/grants.sql"}},
                                {"sqlFile": {"path": "oracle/extra.sql"}},
                            ],
                        }
                    },
                    {
                        "changeSet": {
                            "id": "2",
                            "changes": [
                                {"sqlFile": {"path": "pg/grants.sql"}},
                                {"sqlFile": {"path": "h2/seed.sql", "dbms": "h2"}},
                            ],
                        }
                    },
                ]
            }
        ),
    )
    for kind in ("xml", "yaml", "json"):
        d = tmp_path / kind
        o = order_paths([d])
        assert [p.relative_to(d).as_posix() for p in o.files] == ["pg/grants.sql"], kind
        assert {p.relative_to(d).as_posix() for p, _why in o.skipped} == {
            "oracle/grants.sql",
            "oracle/extra.sql",
            "h2/seed.sql",
        }, kind
    result = _lint([tmp_path / "xml"], tmp_path)
    assert {f.file for f in result.findings} == {"xml/pg/grants.sql"}
    assert any(
        n == "xml/oracle/grants.sql: not run: Liquibase runs it only on dbms oracle"
        for n in result.meta["lint"]["notes"]
    )


# --- DROP POLICY -------------------------------------------------------------------------


def test_drop_policy_says_what_it_does(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "V1__rls.sql",
        "CREATE TABLE t (tenant int, archived bool);\n"  # 1
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY tenant_rows ON t FOR ALL TO app_shop USING (tenant = 1);\n"
        "CREATE POLICY reads ON t FOR SELECT USING (tenant = 1);\n"
        "CREATE POLICY hide_archived ON t AS RESTRICTIVE FOR SELECT TO app_shop "
        "USING (NOT archived);\n"  # 5
        "DROP POLICY hide_archived ON t;\n"  # 6: widens
        "DROP POLICY reads ON t;\n"  # 7: tenant_rows still covers SELECT: narrows only
        "DROP POLICY tenant_rows ON t;\n"  # 8: the last permissive policy
        "DROP POLICY IF EXISTS gone ON t;\n"  # 9: a known table without it: nothing
        "DROP POLICY legacy ON other_table;\n"  # 10: unknown
        "CREATE TABLE u (i int);\n"
        "ALTER TABLE u ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY strict ON u AS RESTRICTIVE USING (i > 0);\n"
        "CREATE POLICY open_u ON u USING (i > 0);\n"
        "DROP POLICY IF EXISTS open_u ON u;\n"  # 15: re-created below: a replacement
        "CREATE POLICY open_u ON u USING (i > 1);\n"
        "DROP POLICY strict ON u;\n"  # 17: restrictive re-created as permissive
        "CREATE POLICY strict ON u USING (true);\n"
        "ALTER TABLE u DISABLE ROW LEVEL SECURITY;\n"
        "DROP POLICY open_u ON u;\n",  # 20: row-level security off: no effect now
    )
    result = _lint([f], tmp_path)
    hits = {x.line: x for x in result.findings if x.rule_id == "PGR-LINT-016"}
    assert sorted(hits) == [6, 8, 10, 17]
    assert hits[6].details["effect"] == "restrictive"
    assert "removes a RESTRICTIVE policy (SELECT for app_shop" in hits[6].message
    assert "become visible to them" in hits[6].message  # SELECT: not writable
    assert hits[8].details["effect"] == "last_permissive"
    assert hits[8].details["commands"] == ["SELECT", "INSERT", "UPDATE", "DELETE"]
    assert "no role but the owner" in hits[8].message
    assert hits[10].details["effect"] == "unknown" and "is unknown" in hits[10].message
    assert hits[17].details["effect"] == "restrictive_replaced"


def test_drop_policy_of_a_table_from_outside_the_migrations(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "V2__rls.sql",
        "CREATE POLICY extra ON app.orders USING (true);\n"
        "DROP POLICY extra ON app.orders;\n",  # other policies of app.orders: unknown
    )
    (hit,) = [x for x in _lint([f], tmp_path).findings if x.rule_id == "PGR-LINT-016"]
    assert hit.details["effect"] == "permissive_rest_unknown"
    assert "lint --snapshot knows production's policies" in hit.message


def test_lexer_keeps_offsets_with_if_blocks() -> None:
    lexed = lex("\\if :x\nSELECT 1;\n\\endif\n")
    assert lexed.conditions == {0: None} and lexed.text.splitlines()[1] == "SELECT 1;"


# --- predefined roles for application roles ---------------------------------------------


def test_operational_predefined_roles_granted_to_application_roles(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "V4__ops.sql",
        "CREATE ROLE app_shop LOGIN IN ROLE pg_create_subscription;\n"  # 1
        "GRANT pg_checkpoint TO monitoring_shop;\n"  # 2: monitoring never needs it
        "GRANT pg_signal_backend, pg_use_reserved_connections TO monitoring_shop;\n"  # 3: fine
        "GRANT pg_signal_backend TO app_shop WITH INHERIT FALSE, SET FALSE;\n"  # 4: nothing
        'GRANT pg_signal_backend TO "app_x""<script>";\n'  # 5
        "GRANT pg_signal_backend TO ops_oncall;\n"  # 6: a dedicated operations role
        "ALTER GROUP pg_signal_autovacuum_worker ADD USER db_owner_shop;\n",  # 7
    )
    hits = [x for x in _lint([f], tmp_path).findings if x.rule_id == "PGR-LINT-017"]
    assert [(x.line, x.details["granted"], x.role) for x in hits] == [
        (1, "pg_create_subscription", "app_shop"),
        (2, "pg_checkpoint", "monitoring_shop"),
        (5, "pg_signal_backend", 'app_x"<script>'),
        (7, "pg_signal_autovacuum_worker", "db_owner_shop"),
    ]
    assert "terminate other applications' sessions" in hits[2].message
