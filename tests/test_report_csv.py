"""The access-review CSV: parsed back with the csv module, rows checked against the server's
own has_*_privilege(), one file per application, no formula injection."""

from __future__ import annotations

import csv
import io

import pytest
from report_fixtures import full_result

from pgaudit_roles.core.errors import UsageError
from pgaudit_roles.reports import render, write_reports
from pgaudit_roles.reports.csv_report import HEADER, SOURCE_COLUMNS, file_key


def _result_with(rows: list[list[object]]):
    r = full_result()
    r.inventory = {
        **(r.inventory or {}),
        "access_review": {"columns": list(SOURCE_COLUMNS), "rows": rows},
    }
    return r


def test_cells_never_become_formulas_and_columns_are_fixed():
    rows = [
        ['=HYPERLINK("http://x")', "billing", "db", "table", "+1", "SELECT", "-x", False],
        ["@SUM(A1)", None, "d\nb", "schema", "s", "USAGE", "direct", True],
    ]
    text = render(_result_with(rows), "csv")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(HEADER)
    assert parsed[1][:8] == [
        '\'=HYPERLINK("http://x")',
        "billing",
        "db",
        "table",
        "'+1",
        "SELECT",
        "'-x",
        "no",
    ]
    assert parsed[1][8:] == ["", "", ""]  # reviewer, decision, review_date to fill in
    assert parsed[2][0] == "'@SUM(A1)" and parsed[2][1] == "" and parsed[2][2] == "d\\nb"
    assert not [c for row in parsed[1:] for c in row if c[:1] in ("=", "+", "-", "@")]


def test_without_the_rows_it_says_what_to_do():
    with pytest.raises(UsageError, match="--format csv"):
        render(full_result(), "csv")


def test_file_keys_stay_inside_the_directory():
    assert file_key("billing") == "billing"
    for hostile in ("../etc", "a/b", "..", "x\ny", "日本", "."):
        key = file_key(hostile)
        assert "/" not in key and not key.startswith(".") and "\n" not in key
    assert file_key("a/b") != file_key("a_b")  # a replaced name gets a digest


def test_one_file_per_application(tmp_path):
    rows = [
        ["app_billing", "billing", "d", "table", "t", "SELECT", "direct", False],
        ["app_api", "api", "d", "table", "t", "INSERT", "via role db_writer_api", False],
        ["alice", None, "d", "table", "t", "SELECT", "PUBLIC", False],
        ["evil", "../../x", "d", "table", "t", "SELECT", "direct", False],
    ]
    paths = write_reports(_result_with(rows), ["csv", "text"], tmp_path)
    assert paths["csv"].name == "pgaudit-report.access.csv"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "pgaudit-report.access.billing.csv" in names and "pgaudit-report.access.api.csv" in names
    assert all(p.parent == tmp_path for p in paths.values())
    billing = list(csv.reader(paths["csv:access.billing.csv"].open(newline="")))
    assert [r[0] for r in billing[1:]] == ["app_billing"]
    main = list(csv.reader(paths["csv"].open(newline="")))
    assert len(main) == 5
    assert "access.billing.csv" in paths["text"].read_text()  # the summary lists every file


# --- on a real scan -------------------------------------------------------------------------


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_CHECK = {
    "table": "has_table_privilege(%(role)s, %(obj)s, %(priv)s)",
    "view": "has_table_privilege(%(role)s, %(obj)s, %(priv)s)",
    "sequence": "has_sequence_privilege(%(role)s, %(obj)s, %(priv)s)",
    "schema": "has_schema_privilege(%(role)s, %(obj)s, %(priv)s)",
    "database": "has_database_privilege(%(role)s, %(obj)s, %(priv)s)",
    "function": "has_function_privilege(%(role)s, %(obj)s, %(priv)s)",
}


@pytest.mark.pg
def test_access_review_on_a_real_scan(pg, fresh_db, tmp_path, builtin_rules):
    from pgaudit_roles.collect.collector import collect
    from pgaudit_roles.config import Config
    from pgaudit_roles.evaluate.engine import evaluate

    tag = pg.unique("ar")
    app, writer, owner = f"app_{tag}", f"db_writer_{tag}", f"db_owner_{tag}"
    hostile = f"=cmd|' /C calc'!A0 {tag}"
    roles = [app, writer, owner, hostile]
    pg.execute(
        f"CREATE ROLE {_qi(app)} LOGIN; CREATE ROLE {_qi(writer)}; "
        f"CREATE ROLE {_qi(owner)}; CREATE ROLE {_qi(hostile)} LOGIN; "
        f"GRANT {_qi(writer)} TO {_qi(app)}"
    )
    try:
        pg.execute(
            f"""
            CREATE SCHEMA s AUTHORIZATION {_qi(owner)};
            CREATE TABLE s.inv (id int, amount int, note text);
            ALTER TABLE s.inv OWNER TO {_qi(owner)};
            CREATE SEQUENCE s.seq; ALTER SEQUENCE s.seq OWNER TO {_qi(owner)};
            CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
            GRANT USAGE ON SCHEMA s TO {_qi(writer)}, {_qi(hostile)};
            GRANT SELECT, INSERT ON s.inv TO {_qi(writer)};
            GRANT USAGE ON SEQUENCE s.seq TO {_qi(writer)};
            GRANT UPDATE (note) ON s.inv TO {_qi(hostile)};
            GRANT SELECT ON s.inv TO {_qi(hostile)} WITH GRANT OPTION;
            GRANT CONNECT ON DATABASE {_qi(fresh_db)} TO {_qi(app)};
        """,
            dbname=fresh_db,
        )
        snap = collect(pg.conninfo(dbname=fresh_db), databases=[fresh_db], all_databases=False)
        result = evaluate(snap, list(builtin_rules), Config(formats=("csv",)))
        paths = write_reports(result, ["csv"], tmp_path)

        rows = list(csv.DictReader(paths["csv"].open(newline="", encoding="utf-8")))
        assert rows and list(rows[0]) == list(HEADER)
        mine = [
            r for r in rows if r["login_role"] in (app, "'" + hostile) and r["database"] == fresh_db
        ]
        got = {
            (r["login_role"], r["object_type"], r["object"], r["privilege"], r["held"])
            for r in mine
        }
        expected = {
            (app, "table", "s.inv", "SELECT", f"via role {writer}"),
            (app, "table", "s.inv", "INSERT", f"via role {writer}"),
            (app, "sequence", "s.seq", "USAGE", f"via role {writer}"),
            (app, "schema", "s", "USAGE", f"via role {writer}"),
            (
                app,
                "database",
                _qi(fresh_db) if not fresh_db.isidentifier() else fresh_db,
                "CONNECT",
                "direct",
            ),
            (app, "function", "s.f()", "EXECUTE", "PUBLIC"),
            ("'" + hostile, "column", "s.inv.note", "UPDATE", "direct"),
            ("'" + hostile, "table", "s.inv", "SELECT", "direct"),
        }
        assert expected <= got, sorted(expected - got)
        assert all(r["reviewer"] == r["decision"] == r["review_date"] == "" for r in rows)
        assert {
            r["grantable"]
            for r in mine
            if r["object"] == "s.inv"
            and r["login_role"].endswith(tag)
            and r["privilege"] == "SELECT"
            and r["held"] == "direct"
        } == {"yes"}
        # every row of ours is a privilege the server itself says the role holds
        checked = 0
        for r in mine:
            role = r["login_role"][1:] if r["login_role"].startswith("'") else r["login_role"]
            if r["object_type"] == "column":
                table, column = r["object"].rsplit(".", 1)
                sql = "SELECT has_column_privilege(%(role)s, %(obj)s, %(col)s, %(priv)s)"
                params = {"role": role, "obj": table, "col": column, "priv": r["privilege"]}
            elif r["object_type"] in _CHECK:
                sql = "SELECT " + _CHECK[r["object_type"]]
                obj = fresh_db if r["object_type"] == "database" else r["object"]
                params = {"role": role, "obj": obj, "priv": r["privilege"]}
            else:
                continue
            ((ok,),) = pg.query(sql, params, dbname=fresh_db)
            assert ok, r
            checked += 1
        assert checked >= len(expected)
        # the application's own file holds its login role's rows only
        per_app = paths[f"csv:access.{tag}.csv"]
        app_rows = list(csv.DictReader(per_app.open(newline="", encoding="utf-8")))
        assert app_rows and {r["login_role"] for r in app_rows} == {app}
        assert {r["application"] for r in app_rows} == {tag}
    finally:
        pg.execute("DROP SCHEMA IF EXISTS s CASCADE", dbname=fresh_db)
        for r in roles:
            pg.execute(f"DROP OWNED BY {_qi(r)}", dbname=fresh_db)
        for r in roles:
            pg.execute(f"DROP ROLE IF EXISTS {_qi(r)}")
