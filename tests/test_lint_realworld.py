"""lint on migrations written the way teams write them: psql scripts, Flyway placeholders,
DO blocks, COPY data, a BOM and CRLF, default privileges, older role-membership spellings.

tests/data/lint_realworld holds the sets; ``-- expect: RULE`` marks the line a statement
finding must be at, ``-- pass: RULE`` a line where the rule must stay quiet. Pure logic
(no server) except the last test, which applies a psql script to a twin on 13..18.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lint_support import ROOT, located  # noqa: E402

from pgaudit_roles.config import Config  # noqa: E402
from pgaudit_roles.evaluate.rules import load_rules  # noqa: E402
from pgaudit_roles.lint.run import LintOptions, lint  # noqa: E402
from pgaudit_roles.lint.source import LintSyntaxError, read_sources, split_meta  # noqa: E402

RULES = load_rules()
REAL = ROOT / "tests" / "data" / "lint_realworld"
SETS = [REAL / "flyway", REAL / "psql"]
SECRETS = ("Realworld-Do-Pw-1", "Realworld-Set-Pw-2")
_MARK = re.compile(r"--\s*(expect|pass):\s*((?:PGR-[A-Z]+-\d{3}\s*)+)")


def _markers(kind: str) -> set[tuple[str, int, str]]:
    out: set[tuple[str, int, str]] = set()
    for path in sorted(REAL.rglob("*.sql")):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_bytes().decode("utf-8")
        for no, line in enumerate(text.split("\n"), 1):
            for m in _MARK.finditer(line):
                if m.group(1) == kind:
                    out.update((rel, no, rule) for rule in m.group(2).split())
    return out


def _run(paths: list[Path], **kw: object) -> object:
    kw.setdefault("root", ROOT)
    return lint(LintOptions(paths=paths, twin=False, **kw), RULES, Config())  # type: ignore[arg-type]


def test_realworld_sets_fire_exactly_at_their_markers() -> None:
    result = _run(SETS)
    expected = _markers("expect")
    assert located(result) == expected
    assert not located(result) & _markers("pass")
    assert len(expected) >= 15


def test_realworld_secrets_never_reach_an_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pgaudit_roles.cli import main

    out_dir = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(
            ["lint", "--no-twin", "-v", "--format", "text,json,sarif,junit,github"]
            + ["--output-dir", str(out_dir), *map(str, SETS)]
        )
    assert exc.value.code == 1
    cap = capsys.readouterr()
    everything = cap.out + cap.err + "".join(p.read_text("utf-8") for p in out_dir.iterdir())
    assert "PGR-LINT-001" in everything and "Traceback" not in everything
    for secret in SECRETS:
        assert secret not in everything
    # an unset psql variable is named in the notes, never taken for a literal
    assert "psql variable :'app_pw' is not set" in cap.err
    doc = json.loads((out_dir / "pgaudit-lint.json").read_text("utf-8"))
    messages = [f["message"] for f in doc["findings"]]
    assert any("tables created later by db_owner_rw" in m for m in messages)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a BOM is not a column
        ("\ufeffGRANT SELECT ON t TO PUBLIC;\n", {(1, 1, "PGR-LINT-004")}),
        # CRLF, a statement over two lines: its first line
        ("SELECT 1;\r\n\r\nGRANT SELECT\r\n  ON t TO PUBLIC;\r\n", {(3, 1, "PGR-LINT-004")}),
        # COPY data (with empty lines, GRANT text, CRLF) up to \. is not SQL
        (
            "COPY t FROM STDIN;\r\n\r\nGRANT ALL ON t TO PUBLIC;\r\n\\.\r\nGRANT SELECT ON t TO PUBLIC;\r\n",
            {(5, 1, "PGR-LINT-004")},
        ),
        # \gexec mid-line ends the statement; the next one is its own
        (
            "SELECT 'CREATE ROLE r'\\gexec\nCREATE ROLE r2 SUPERUSER;\n",
            {(2, 1, "PGR-LINT-002")},
        ),
        # \set then :'var' is the value, a literal in the file; unknown :'var' is not
        (
            "\\set pw 'x1'\nCREATE ROLE a PASSWORD :'pw';\nCREATE ROLE b PASSWORD :'other';\n",
            {(2, 1, "PGR-LINT-001")},
        ),
        # a Flyway/Liquibase placeholder password is not a literal; the text around one is
        (
            "CREATE ROLE a PASSWORD '${pw}';\nCREATE ROLE ${role} SUPERUSER;\n",
            {(2, 1, "PGR-LINT-002")},
        ),
        # GRANT text in comments, strings and function bodies is not a statement
        (
            "-- GRANT ALL ON t TO PUBLIC;\n/* GRANT ALL ON t TO PUBLIC; */ SELECT 'GRANT ALL ON t TO PUBLIC;';\n"
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN GRANT ALL ON t TO PUBLIC; END $f$;\n",
            set(),
        ),
        # a DO body in single quotes: found at its column; with doubled quotes at the DO
        ("DO 'BEGIN CREATE ROLE x SUPERUSER; END';\n", {(1, 11, "PGR-LINT-002")}),
        (
            "SELECT 1;\nDO 'BEGIN CREATE ROLE \"o''k\" SUPERUSER; END';\n",
            {(2, 1, "PGR-LINT-002")},
        ),
        # a role named "PUBLIC" (upper case, quoted) is a role; "public" is PUBLIC
        (
            'GRANT SELECT ON t TO "PUBLIC";\nGRANT SELECT ON t TO "public";\n',
            {(2, 1, "PGR-LINT-004")},
        ),
        # default privileges for future objects, to PUBLIC and ALL
        (
            "ALTER DEFAULT PRIVILEGES FOR ROLE o GRANT EXECUTE ON FUNCTIONS TO PUBLIC;\n"
            "ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s\n  GRANT USAGE ON SEQUENCES TO PUBLIC;\n"
            "ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE ALL ON TABLES FROM PUBLIC;\n",
            {(2, 1, "PGR-LINT-004")},
        ),
        # what PUBLIC holds by default, granted again: nothing new
        (
            "GRANT CONNECT, TEMP ON DATABASE d TO PUBLIC;\nGRANT USAGE ON TYPE x TO public;\n"
            "GRANT USAGE ON LANGUAGE plpgsql TO PUBLIC;\nGRANT CREATE ON DATABASE d TO PUBLIC;\n",
            {(4, 1, "PGR-LINT-004")},
        ),
        # SET LOCAL ROLE ends with the transaction (and with the file its tool commits)
        (
            "BEGIN;\nSET LOCAL ROLE app_x;\nCREATE TABLE a (i int);\nCOMMIT;\n"
            "CREATE TABLE b (i int);\nSET ROLE app_x;\nCREATE TABLE c (i int);\n",
            {(3, 1, "PGR-LINT-010"), (7, 1, "PGR-LINT-010")},
        ),
        # RESET ALL and DISCARD ALL end a SET ROLE too
        (
            "SET ROLE app_x;\nRESET ALL;\nCREATE TABLE a (i int);\nSET ROLE app_x;\n"
            "DISCARD ALL;\nCREATE TABLE b (i int);\nSET ROLE app_x;\nCREATE TABLE c (i int);\n",
            {(8, 1, "PGR-LINT-010")},
        ),
        # RESET (or SET ... TO DEFAULT) of a logging setting gives the cluster's policy back
        (
            "ALTER ROLE app_x RESET log_statement;\nALTER DATABASE d RESET pgaudit.log;\n"
            "ALTER ROLE app_x IN DATABASE d SET log_statement TO DEFAULT;\n"
            "ALTER ROLE app_x IN DATABASE d SET log_statement = 'none';\n",
            {(4, 1, "PGR-LINT-011")},
        ),
        # true written as a string cast to boolean
        (
            "CREATE POLICY p ON t USING ('t'::boolean);\n"
            "CREATE POLICY q ON t FOR INSERT WITH CHECK (CAST('yes' AS bool));\n"
            "CREATE POLICY r ON t USING ('f'::boolean);\n",
            {(1, 1, "PGR-LINT-013"), (2, 1, "PGR-LINT-013")},
        ),
        # a function made SECURITY INVOKER (or replaced without DEFINER) is no longer one
        (
            "CREATE FUNCTION s.f() RETURNS int LANGUAGE sql SECURITY DEFINER\n"
            "  SET search_path = s, pg_temp AS 'SELECT 1';\n"
            "ALTER FUNCTION s.f() SECURITY INVOKER;\nGRANT EXECUTE ON FUNCTION s.f() TO PUBLIC;\n"
            "ALTER FUNCTION s.f() SECURITY DEFINER;\nGRANT EXECUTE ON FUNCTION s.f() TO PUBLIC;\n"
            "CREATE OR REPLACE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 2';\n"
            "GRANT EXECUTE ON FUNCTION s.f() TO PUBLIC;\n",
            {(5, 1, "PGR-LINT-007"), (6, 1, "PGR-LINT-008")},
        ),
        # goose and sql-migrate Down sections are not part of the forward run
        (
            "-- +goose Up\nCREATE ROLE a SUPERUSER;\n-- +goose Down\nGRANT ALL ON t TO PUBLIC;\n",
            {(2, 1, "PGR-LINT-002")},
        ),
        (
            "-- +migrate Down\nCREATE ROLE d SUPERUSER;\n-- +migrate Up\nCREATE ROLE u SUPERUSER;\n",
            {(4, 1, "PGR-LINT-002")},
        ),
        # a user mapping's password is a secret in git too; SET search_path TO DEFAULT
        # fixes nothing
        (
            "CREATE USER MAPPING FOR app_x SERVER remote OPTIONS (user 'r', password 'Fdw-1');\n"
            "ALTER USER MAPPING FOR PUBLIC SERVER remote OPTIONS (SET password '${fdw_pw}');\n"
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER\n"
            "  SET search_path TO DEFAULT AS 'select 1';\n",
            {(1, 1, "PGR-LINT-001"), (3, 1, "PGR-LINT-007")},
        ),
    ],
)
def test_psql_and_tool_syntax_is_read_as_psql_does(
    tmp_path: Path, text: str, expected: set[tuple[int, int, str]]
) -> None:
    f = tmp_path / "m.sql"
    f.write_bytes(text.encode("utf-8"))
    result = _run([f], root=tmp_path)
    got = {(x.line, x.column, x.rule_id) for x in result.findings}  # type: ignore[attr-defined]
    assert got == expected


def test_lexer_keeps_lines_and_columns() -> None:
    text = "SELECT 1 \\gset\nCOPY t FROM stdin;\nx\ty\n\\.\nSELECT :'v', ${p}, a::int;\n"
    blanked, metas = split_meta(text)
    assert len(blanked) == len(text) and blanked.count("\n") == text.count("\n")
    assert blanked.startswith("SELECT 1 ;")
    assert "x\ty" not in blanked and "\\." not in blanked
    assert "SELECT  'v', __p_, a::int;" in blanked
    assert [m[1] for m in metas] == ["\\gset"]  # COPY's "\\." is data's end, not a command


@pytest.mark.parametrize(
    ("data", "line", "why"),
    [
        (b"SELECT 1;\n\x00\x01\x02", 2, "NUL byte"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", 1, "not UTF-8"),
        (b"SELECT 1;\nSELECT 2;\n\xff\xfe", 3, "not UTF-8"),
    ],
)
def test_binary_and_invalid_files_are_one_line_exit_2(
    tmp_path: Path, data: bytes, line: int, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pgaudit_roles.cli import main

    f = tmp_path / "bad.sql"
    f.write_bytes(data)
    with pytest.raises(LintSyntaxError):
        read_sources([f], tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--no-twin", str(f)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{f.as_posix()}:{line}: ") and why in err[0]


TWIN_SCRIPT = """\\set ON_ERROR_STOP on
SELECT format('CREATE ROLE %I NOLOGIN', 'db_owner_gx')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'db_owner_gx')\\gexec
CREATE TABLE lookup (id int, note text);
COPY lookup (id, note) FROM stdin;
1\tGRANT ALL ON lookup TO PUBLIC;

\\.
ALTER TABLE lookup OWNER TO db_owner_gx;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'svc_gx') THEN
    CREATE ROLE svc_gx LOGIN PASSWORD 'Twin-Do-Pw-3';
  END IF;
END $$;
GRANT SELECT ON lookup TO svc_gx;
CREATE ROLE app_gx LOGIN CONNECTION LIMIT 5;
CREATE TABLE owned (i int);
ALTER TABLE owned ADD COLUMN j int;
ALTER TABLE owned OWNER TO app_gx;
"""


@pytest.mark.parametrize("major", [13, 14, 15, 16, 17, 18], ids=lambda v: f"pg{v}")
def test_psql_script_applies_on_the_twin_as_psql_runs_it(major: int, tmp_path: Path) -> None:
    """\\gexec runs what the query generates (the role exists for the next statements),
    COPY data is not a statement, a DO block's password is found and never printed."""
    from conftest import install_for

    from pgaudit_roles.core.localpg import LocalCluster
    from pgaudit_roles.reports import render

    f = tmp_path / "01_roles.sql"
    f.write_text(TWIN_SCRIPT, encoding="utf-8")
    g = tmp_path / "02_grants.sql"
    g.write_text(
        'GRANT SELECT ON lookup TO ${appUser};\nGRANT SELECT ON lookup TO :"reader";\n'
        "CREATE TABLE t2 (i int);\n"
        "DO $$ BEGIN EXECUTE format('CREATE ROLE %I SUPERUSER LOGIN', 'ops_gx'); END $$;\n"
        "GRANT SELECT ON no_such_table TO svc_gx;\n",
        encoding="utf-8",
    )
    cluster = LocalCluster(install_for(major)).start()
    try:
        result = lint(
            LintOptions(paths=[f, g], cluster=cluster, root=tmp_path, checkpoints=2),
            RULES,
            Config(),
        )
    finally:
        cluster.stop()
    twin = result.meta["lint"]["twin"]
    # placeholders the twin cannot know are notes, not failures, and do not stop the run
    failed = [(x.file, x.line) for x in result.findings if x.rule_id == "PGR-LINT-015"]
    assert failed == [("02_grants.sql", 5)] and twin["stopped_after_error"] is True
    # a superuser made by SQL built at run time: at the DO block, not the file's first line
    su = [(x.file, x.line) for x in result.findings if x.role == "ops_gx"]
    assert ("02_grants.sql", 4) in su and ("02_grants.sql", 3) not in su
    notes = result.meta["lint"]["notes"]
    assert twin["applied"] == result.meta["lint"]["statements"] - 4  # COPY, 2 notes, 1 failed
    assert "01_roles.sql:5: COPY data not loaded on the twin" in notes
    assert sorted(n.split(":")[1] for n in notes if n.startswith("02_grants.sql")) == [
        "1",
        "2",
        "2",
    ]
    assert ("01_roles.sql", 12, "PGR-LINT-001") in located(result, "statement")
    # the runtime role owns the table because of the OWNER TO, not the CREATE TABLE
    owned = [x for x in result.findings if x.rule_id == "PGR-OWN-001" and x.role == "app_gx"]
    assert [(x.file, x.line) for x in owned] == [("01_roles.sql", 19)]
    text = "".join(render(result, fmt) for fmt in ("json", "sarif", "junit"))
    assert "Twin-Do-Pw-3" not in text


def test_goose_and_flyway_callback_order(tmp_path: Path) -> None:
    from pgaudit_roles.lint.order import order_paths

    goose = tmp_path / "goose"
    goose.mkdir()
    for n in ("00010_b.sql", "00002_a.sql"):
        (goose / n).write_text("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n")
    o = order_paths([goose])
    assert o.layouts[0][1] == "goose"
    assert [p.name for p in o.files] == ["00002_a.sql", "00010_b.sql"]
    fly = tmp_path / "fly"
    fly.mkdir()
    names = [
        "afterMigrate__grants.sql",
        "afterMigrate.sql",
        "V2__b.sql",
        "V1__a.sql",
        "R__views.sql",
        "beforeMigrate.sql",
        "afterClean.sql",
        "beforeRepeatables.sql",
    ]
    for n in names:
        (fly / n).write_text("SELECT 1;\n")
    o = order_paths([fly])
    assert o.layouts[0][1] == "flyway"
    assert [p.name for p in o.files] == [
        "beforeMigrate.sql",
        "V1__a.sql",
        "V2__b.sql",
        "beforeRepeatables.sql",
        "R__views.sql",
        "afterMigrate.sql",
        "afterMigrate__grants.sql",
    ]


def test_connect_forms_reach_the_statements(tmp_path: Path) -> None:
    f = tmp_path / "c.sql"
    f.write_text(
        '\\c -reuse-previous=on shop\nSELECT 1;\n\\connect "dbname=crm user=deploy"\nSELECT 2;\n'
        "\\c postgresql://ops%40x@localhost:5432/billing\nSELECT 3;\n\\c - admin\nSELECT 4;\n"
        "\\c 'dbname=''q db'' host=10.0.0.1'\nSELECT 5;\n"
        '\\set target shop\n\\connect :target\nSELECT 6;\n\\c :"unset"\nSELECT 7;\n',
        encoding="utf-8",
    )
    got = [(s.database, s.user) for s in read_sources([f], tmp_path).statements]
    assert got == [
        ("shop", None),
        ("crm", "deploy"),
        ("billing", "ops@x"),
        ("billing", "admin"),
        ("q db", None),  # a connection string does not reuse the previous user
        ("shop", None),  # \\connect :target, set by \\set
        ("shop", None),  # \\c :"unset" (psql -v): stays, with a note
    ]


def test_markers_after_a_bom_still_decide_the_layout(tmp_path: Path) -> None:
    from pgaudit_roles.lint.order import order_paths

    bom = "\ufeff"
    lq = tmp_path / "lq"
    lq.mkdir()
    for n in ("b.sql", "a.sql"):
        (lq / n).write_text(f"{bom}--liquibase formatted sql\n--changeset x:{n}\nSELECT 1;\n")
    (lq / "changelog.xml").write_text('<include file="b.sql"/><include file="a.sql"/>')
    o = order_paths([lq])
    assert o.layouts[0][1] == "liquibase" and [p.name for p in o.files] == ["b.sql", "a.sql"]
    goose = tmp_path / "goose"
    goose.mkdir()
    (goose / "001_a.sql").write_text(
        f"{bom}-- +goose Up\nSELECT 1;\n-- +goose Down\nGRANT ALL ON t TO PUBLIC;\n"
    )
    assert order_paths([goose]).layouts[0][1] == "goose"
    assert _run([goose], root=tmp_path).findings == []  # type: ignore[attr-defined]


def test_file_names_are_escaped_in_errors_order_and_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pgaudit_roles.cli import main

    d = tmp_path / "m"
    d.mkdir()
    bad = d / "x\u202e\x1b[31m.sql"
    bad.write_text("SELECT 1;\n\\echo hi\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--no-twin", "-v", str(d)])
    assert exc.value.code == 0
    err = capsys.readouterr().err
    assert "\u202e" not in err and "\x1b" not in err
    assert "x\\u202e\\x1b[31m.sql:2: psql meta-command" in err
    bad.write_text("SELECT 1;\nSELEC 2;\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--no-twin", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "\u202e" not in err and "\x1b" not in err and len(err.splitlines()) == 1
    assert "x\\u202e\\x1b[31m.sql:2: syntax error" in err


def test_dbname_is_the_connection_database(tmp_path: Path) -> None:
    f = tmp_path / "db.sql"
    f.write_text(
        'GRANT CREATE ON DATABASE :"DBNAME" TO PUBLIC;\n\\c shop\n'
        'GRANT CREATE ON DATABASE :"DBNAME" TO PUBLIC;\n\\c -reuse-previous=on "dbname=crm"\n'
        'GRANT CREATE ON DATABASE :"DBNAME" TO PUBLIC;\n',
        encoding="utf-8",
    )
    result = _run([f], root=tmp_path, database="appdb")
    got = sorted((x.line, x.message) for x in result.findings)  # type: ignore[attr-defined]
    assert got == [
        (1, "CREATE on database appdb is granted TO PUBLIC."),
        (3, "CREATE on database shop is granted TO PUBLIC."),
        (5, "CREATE on database crm is granted TO PUBLIC."),
    ]


def test_lexer_leaves_plain_sql_as_it_is_and_is_fast() -> None:
    import time

    from pgaudit_roles.lint.psql import lex

    text = (
        "CREATE TABLE s.t (id bigint, n text DEFAULT E'a\\'b' -- c\n); /* x; */ "
        "SELECT $f$ \\x $f$, a::int, b[1:2], 'C:\\' FROM s.t;\n"
    ) * 5000
    t0 = time.perf_counter()
    out = lex(text)
    assert out.text == text and out.metas == []
    assert time.perf_counter() - t0 < 5  # about 0.1 s here; the per-character loop took 1+
