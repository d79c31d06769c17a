"""lint's statement layer, ordering, parsing and outputs: no server needed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lint_support import CASES, CLEAN, DATA, PASSWORDS, ROOT, located, markers  # noqa: E402

from pgaudit_roles.config import Config  # noqa: E402
from pgaudit_roles.evaluate.rules import load_rules  # noqa: E402
from pgaudit_roles.lint.order import natural_key, order_paths  # noqa: E402
from pgaudit_roles.lint.run import LintOptions, lint  # noqa: E402
from pgaudit_roles.lint.source import LineMap, LintSyntaxError, split_meta  # noqa: E402

RULES = load_rules()
LINT_IDS = sorted(r.id for r in RULES if r.check is not None)


def run(paths: list[Path], **kw) -> object:
    kw.setdefault("root", ROOT)
    return lint(LintOptions(paths=paths, twin=False, **kw), RULES, Config())


def test_every_statement_check_fires_exactly_at_its_markers() -> None:
    result = run([CASES])
    expected = markers("expect")
    assert located(result) == expected
    # every statement rule has a fail case and a pass case in the set
    fired = {rule for _f, _l, rule in expected}
    passed = {rule for _f, _l, rule in markers("pass")}
    statement_rules = set(LINT_IDS) - {"PGR-LINT-015"}
    assert statement_rules <= fired, statement_rules - fired
    assert statement_rules <= passed, statement_rules - passed
    assert {f.file for f in result.findings} >= {"tests/data/lint/included/extra.sql"}


def test_statement_rules_are_in_the_catalogue_docs_and_config(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rid in LINT_IDS:
        assert rid in readme and f'id="{rid.lower()}"' in docs
    from pgaudit_roles.config import config_from_mapping

    cfg = config_from_mapping(
        {"rules": {"disable": ["PGR-LINT-001"], "severity": {"PGR-LINT-005": "low"}}}
    )
    cfg.resolve_rules(RULES)
    result = lint(LintOptions(paths=[CASES], twin=False, root=ROOT), RULES, cfg)
    assert not [f for f in result.findings if f.rule_id == "PGR-LINT-001"]
    assert {f.severity for f in result.findings if f.rule_id == "PGR-LINT-005"} == {"low"}
    status = {r.rule.id: r.status for r in result.results}
    assert status["PGR-LINT-001"] == "skipped" and status["PGR-LINT-015"] == "skipped"


def test_statement_rules_never_run_on_a_snapshot() -> None:
    from pgaudit_roles.collect.snapshot import Snapshot
    from pgaudit_roles.evaluate.engine import evaluate

    res = evaluate(Snapshot(meta={}, cluster={}, databases=[]), RULES)
    assert not [r for r in res.results if r.rule.check is not None]


def test_clean_guide_layout_has_no_statement_finding() -> None:
    assert run([CLEAN]).findings == []


def test_multibyte_columns_and_lines() -> None:
    text = "-- ünïcödé ☃\nSELECT 1; /* é */ GRANT ALL ON t TO PUBLIC;\n"
    lm = LineMap(text)
    off = text.index("GRANT")
    assert lm.position(off) == (2, 19)


def test_meta_commands_inside_strings_are_sql(tmp_path: Path) -> None:
    text = (
        "SELECT $$\n\\not a command\n$$;\n\\connect other\nSELECT '\n\\x';\n"
        "/* \n\\c nope */ SELECT 1;\n  \\set ON_ERROR_STOP on\n"
    )
    blanked, metas = split_meta(text)
    assert [m[1].strip() for m in metas] == ["\\connect other", "\\set ON_ERROR_STOP on"]
    assert len(blanked) == len(text) and "\\not a command" in blanked


def test_connect_and_on_error_stop_reach_statements(tmp_path: Path) -> None:
    f = tmp_path / "a.sql"
    f.write_text(
        "SELECT 1;\n\\c shop bob\n\\set ON_ERROR_STOP off\nSELECT 2;\n\\echo hi\n", encoding="utf-8"
    )
    from pgaudit_roles.lint.source import read_sources

    src = read_sources([f], tmp_path)
    assert [(s.database, s.user, s.on_error_stop) for s in src.statements] == [
        (None, None, None),
        ("shop", "bob", False),
    ]
    assert src.notes == ["a.sql:5: psql meta-command \\echo skipped"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("SELECT 1;\n\nCREATE ROLE x WITH BLAH;\n", 3),
        ("SELECT 1;\nSELEC 2;\n", 2),
        ("-- ünï\nCREATE ROLE x PASSWORD 'Sup3r-Secret-Lint-Pw' 'junk';\n", 2),
        ("SELECT 1;\nSELECT (1\n", 2),
    ],
)
def test_syntax_error_is_one_line_exit_2(
    tmp_path: Path, text: str, line: int, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "bad.sql"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(LintSyntaxError) as err:
        run([f])
    assert str(err.value).split(":")[1] == str(line)
    from pgaudit_roles.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["lint", "--no-twin", str(f)])
    assert exc.value.code == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{f.as_posix()}:{line}: "), out.err
    assert "Traceback" not in out.err and PASSWORDS[0] not in out.err + out.out


def _touch(d: Path, names: list[str], body: str = "SELECT 1;\n") -> None:
    for n in names:
        p = d / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body, encoding="utf-8")


def _names(paths: list[Path], base: Path) -> list[str]:
    return [p.relative_to(base).as_posix() for p in paths]


def test_flyway_order(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        [
            "V1_10__ten.sql",
            "V1_9__nine.sql",
            "V2__two.sql",
            "R__views.sql",
            "V1__one.sql",
            "R__a_first.sql",
            "U2__undo.sql",
            "sub/V1_9_1__sub.sql",
        ],
    )
    o = order_paths([tmp_path])
    assert o.layouts == [(tmp_path.as_posix(), "flyway")]
    assert _names(o.files, tmp_path) == [
        "V1__one.sql",
        "V1_9__nine.sql",
        "sub/V1_9_1__sub.sql",
        "V1_10__ten.sql",
        "V2__two.sql",
        "R__a_first.sql",
        "R__views.sql",
    ]


def test_golang_migrate_order(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        [
            "10_c.up.sql",
            "10_c.down.sql",
            "2_b.up.sql",
            "2_b.down.sql",
            "1_a.up.sql",
            "1_a.down.sql",
        ],
    )
    o = order_paths([tmp_path])
    assert o.layouts[0][1] == "golang-migrate"
    assert _names(o.files, tmp_path) == ["1_a.up.sql", "2_b.up.sql", "10_c.up.sql"]


def test_dbmate_order_runs_only_the_up_part(tmp_path: Path) -> None:
    body = "-- migrate:up\nGRANT ALL ON t TO PUBLIC;\n-- migrate:down\nGRANT ALL ON t2 TO PUBLIC;\n"
    _touch(tmp_path, ["20240102000000_b.sql", "20240101000000_a.sql"], body)
    o = order_paths([tmp_path])
    assert o.layouts[0][1] == "dbmate"
    assert _names(o.files, tmp_path) == ["20240101000000_a.sql", "20240102000000_b.sql"]
    result = run([tmp_path], root=tmp_path)
    assert located(result) == {
        ("20240101000000_a.sql", 2, "PGR-LINT-004"),
        ("20240101000000_a.sql", 2, "PGR-LINT-005"),
        ("20240102000000_b.sql", 2, "PGR-LINT-004"),
        ("20240102000000_b.sql", 2, "PGR-LINT-005"),
    }


def test_sqitch_order(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        [
            "deploy/users.sql",
            "deploy/appschema.sql",
            "deploy/flips.sql",
            "revert/users.sql",
            "verify/users.sql",
        ],
    )
    (tmp_path / "sqitch.plan").write_text(
        "%syntax-version=1.0.0\n%project=flipr\n\n"
        "appschema 2024-01-01T00:00:00Z Ann <a@x> # schema\n"
        "users [appschema] 2024-01-02T00:00:00Z Ann <a@x> # users\n"
        "@v1.0 2024-01-03T00:00:00Z Ann <a@x> # tag\n"
        "flips [users] 2024-01-04T00:00:00Z Ann <a@x>\n",
        encoding="utf-8",
    )
    o = order_paths([tmp_path])
    assert o.layouts[0][1] == "sqitch"
    assert _names(o.files, tmp_path) == [
        "deploy/appschema.sql",
        "deploy/users.sql",
        "deploy/flips.sql",
    ]


def test_liquibase_order_follows_the_master_changelog(tmp_path: Path) -> None:
    body = "--liquibase formatted sql\n--changeset ann:1\nSELECT 1;\n--rollback SELECT 2;\n"
    _touch(tmp_path, ["changes/b_second.sql", "changes/a_third.sql", "changes/c_first.sql"], body)
    (tmp_path / "db.changelog-master.yaml").write_text(
        "databaseChangeLog:\n  - include:\n      file: changes/c_first.sql\n"
        "  - include:\n      file: changes/b_second.sql\n",
        encoding="utf-8",
    )
    o = order_paths([tmp_path])
    assert o.layouts[0][1] == "liquibase"
    assert _names(o.files, tmp_path) == [
        "changes/c_first.sql",
        "changes/b_second.sql",
        "changes/a_third.sql",
    ]


def test_natural_order_and_explicit_files(tmp_path: Path) -> None:
    _touch(tmp_path, ["10_x.sql", "2_y.sql", "a/1.sql", "B.sql"])
    o = order_paths([tmp_path])
    assert o.layouts[0][1] == "natural"
    assert _names(o.files, tmp_path) == ["2_y.sql", "10_x.sql", "a/1.sql", "B.sql"]
    o2 = order_paths([tmp_path / "2_y.sql", tmp_path / "10_x.sql", tmp_path / "2_y.sql"])
    assert _names(o2.files, tmp_path) == ["2_y.sql", "10_x.sql"]
    assert natural_key("V2") < natural_key("V10")


def _all_outputs(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from pgaudit_roles.cli import main

    out_dir = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "lint",
                *args,
                "-v",
                "--format",
                "text,json,sarif,junit,github",
                "--output-dir",
                str(out_dir),
                str(CASES),
            ]
        )
    assert exc.value.code == 1
    cap = capsys.readouterr()
    texts = [cap.out, cap.err] + [p.read_text(encoding="utf-8") for p in out_dir.iterdir()]
    assert len(texts) == 5
    for fmt in ("json", "sarif"):
        with pytest.raises(SystemExit):
            main(["lint", *args, "--format", fmt, "--output-dir", "-", str(CASES)])
        texts.append(capsys.readouterr().out)
    return "\n".join(texts)


def test_password_literal_never_in_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = _all_outputs(tmp_path, ["--no-twin"], capsys)
    assert "PGR-LINT-001" in everything
    for pw in PASSWORDS:
        assert pw not in everything


def test_text_and_github_formats(capsys: pytest.CaptureFixture[str]) -> None:
    from pgaudit_roles.cli import main

    with pytest.raises(SystemExit):
        main(["lint", "--no-twin", "--format", "text,github", str(CASES / "05_rls.sql")])
    out = capsys.readouterr().out.splitlines()
    rel = "tests/data/lint/cases/05_rls.sql"  # relative to the repository root
    assert (
        f"{rel}:2:1: medium PGR-LINT-013 Policy all_rows on lc.orders has USING (true): "
        "it filters nothing." in out
    )
    assert (
        f"::warning file={rel},line=5,col=1,title=PGR-LINT-014 (medium)::DISABLE ROW "
        "LEVEL SECURITY on table lc.orders." in out
    )


def test_json_sarif_junit_reports(tmp_path: Path, shared_schemas: Path) -> None:
    import xml.etree.ElementTree as ET

    import jsonschema

    from pgaudit_roles.reports import write_reports

    result = run([CASES])
    paths = write_reports(result, ["json", "sarif", "junit"], tmp_path, basename="lint")
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    schema = json.loads((ROOT / "pgaudit_roles" / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["scan"]["meta"]["lint"]["order"][:2] == [
        "tests/data/lint/cases/01_roles.sql",
        "tests/data/lint/cases/02_grants.sql",
    ]
    assert all(f["location"]["file"] and f["location"]["line"] for f in doc["findings"])
    sarif = json.loads(paths["sarif"].read_text(encoding="utf-8"))
    sschema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validators.validator_for(sschema)(sschema).validate(sarif)
    locs = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["ruleId"],
        )
        for r in sarif["runs"][0]["results"]
    }
    assert locs == markers("expect")
    import xmlschema

    xsd = xmlschema.XMLSchema(str(shared_schemas / "junit.xsd"))
    assert list(xsd.iter_errors(paths["junit"].read_text(encoding="utf-8"))) == []
    suites = [s.get("name") for s in ET.parse(paths["junit"]).getroot()]
    assert suites[0] == "cluster"
    assert suites[1:] == [f"file {f}" for f in doc["scan"]["meta"]["lint"]["order"]]


def test_bad_paths_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pgaudit_roles.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["lint", "--no-twin", "--format", "pdf", str(CASES)])
    assert exc.value.code == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--no-twin", str(tmp_path / "empty")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "no .sql files" in err


def test_data_dir_exists() -> None:
    assert (DATA / "included" / "extra.sql").is_file()


@pytest.mark.parametrize(
    ("sql", "applied"),
    [
        ("COPY t FROM PROGRAM 'id';", False),
        ("COPY t TO '/tmp/x';", False),
        ("LOAD 'plpgsql';", False),
        ("ALTER SYSTEM SET work_mem = '1GB';", False),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1';", False),
        ("DO LANGUAGE plperlu $$ system('id') $$;", False),
        ("COPY t FROM STDIN;", True),
        ("DO $$ BEGIN NULL; END $$;", True),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';", True),
    ],
)
def test_statements_that_reach_outside_the_server_are_not_applied(
    sql: str, applied: bool, tmp_path: Path
) -> None:
    from pgaudit_roles.lint.effect import outside_reason
    from pgaudit_roles.lint.source import read_sources

    f = tmp_path / "x.sql"
    f.write_text(sql + "\n", encoding="utf-8")
    (st,) = read_sources([f], tmp_path).statements
    assert (outside_reason(st) is None) == applied


def test_checkpoint_groups_are_bounded_and_cut_at_file_boundaries(tmp_path: Path) -> None:
    from pgaudit_roles.lint.effect import checkpoint_groups
    from pgaudit_roles.lint.source import read_sources

    for i in range(1, 8):
        (tmp_path / f"{i}.sql").write_text("SELECT 1;\nSELECT 2;\n" * i, encoding="utf-8")
    src = read_sources(sorted(tmp_path.glob("*.sql")), tmp_path)
    per_file = checkpoint_groups(src.statements, 12)
    assert [len(g) for g in per_file] == [2 * i for i in range(1, 8)]
    three = checkpoint_groups(src.statements, 3)
    assert len(three) == 3 and sum(len(g) for g in three) == len(src.statements)
    assert all(g[-1].file != n[0].file for g, n in zip(three, three[1:], strict=False))
    assert [st.index for g in three for st in g] == list(range(len(src.statements)))


def test_snapshot_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not a snapshot (or, in a build without the twin, any --snapshot)
    is one line and exit 2, before any server starts (this tier may start none)."""
    import importlib.util

    from pgaudit_roles.cli import main

    snap = tmp_path / "snap.json"
    snap.write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--snapshot", str(snap), str(CASES / "05_rls.sql")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    if importlib.util.find_spec("pgaudit_roles.twin") is None:
        assert "not available yet" in err
    else:
        assert "not a pgaudit-roles snapshot" in err


def test_lint_bench_statement_layer_smoke() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import lint_bench

    out = lint_bench.bench_statements(files=30, per_file=6, repeat=1)
    assert out["files"] == 30 and out["statements"] >= 30 * 6
    assert out["findings"] > 0 and out["per_1000_statements_s"] > 0


def test_hostile_file_names_are_escaped_in_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pgaudit_roles.cli import main

    (tmp_path / ".git").mkdir()
    name = "we\u202eird,name:☃ <x>.sql"
    (tmp_path / name).write_text("SELECT 1; GRANT ALL ON t TO PUBLIC;\n", encoding="utf-8")
    out_dir = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "lint",
                "--no-twin",
                "--format",
                "text,github,sarif",
                "--output-dir",
                str(out_dir),
                str(tmp_path / name),
            ]
        )
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "\u202e" not in out
    text_lines = [ln for ln in out.splitlines() if "PGR-LINT-004" in ln and not ln.startswith("::")]
    assert text_lines and text_lines[0].endswith(
        ":1:11: high PGR-LINT-004 ALL on table t is granted TO PUBLIC."
    )
    gh = [ln for ln in out.splitlines() if ln.startswith("::error") and "PGR-LINT-004" in ln]
    assert gh and "%2Cname%3A" in gh[0] and ",line=1,col=11," in gh[0]
    sarif = json.loads((out_dir / "pgaudit-lint.sarif").read_text(encoding="utf-8"))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert uris == {"we%E2%80%AEird%2Cname%3A%E2%98%83%20%3Cx%3E.sql"}
