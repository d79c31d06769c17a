"""Every reporter on a real scan of each server version 13-18: schema-valid, names escaped.

Builds a small layout with hostile role names, collects it with the real collector,
evaluates the built-in rules, writes all formats, and validates them against the JSON
Schema, the SARIF 2.1.0 schema and the JUnit XSD.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import xmlschema
from test_html_ids import duplicates

from pgaudit_roles.core.resources import schemas_dir
from pgaudit_roles.reports import FORMATS, write_reports

pytestmark = pytest.mark.pg

engine = pytest.importorskip("pgaudit_roles.evaluate.engine", reason="rule engine not in this tree")
collect_mod = pytest.importorskip(
    "pgaudit_roles.collect.collector", reason="collector not in this tree"
)
rules_mod = pytest.importorskip(
    "pgaudit_roles.evaluate.rules", reason="rule loader not in this tree"
)


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_all_formats_on_a_real_scan(pg, fresh_db, tmp_path, shared_schemas, builtin_rules):
    tag = pg.unique("r")
    img = f"<img src=x onerror=alert(1)> {tag}"
    script = f'<script>alert("{tag}")</script>'
    newline = f"nl\n{tag}"
    pg.execute(
        f"CREATE ROLE {_qi(img)} LOGIN SUPERUSER; CREATE ROLE {_qi(script)} LOGIN; "
        f"CREATE ROLE {_qi(newline)} LOGIN; GRANT {_qi(script)} TO {_qi(img)}"
    )
    try:
        pg.execute(
            f"CREATE TABLE public.t(i int); GRANT ALL ON public.t TO {_qi(script)}", dbname=fresh_db
        )
        snap = collect_mod.collect(
            pg.conninfo(dbname=fresh_db), databases=[fresh_db], all_databases=False
        )
        from pgaudit_roles.config import Config

        cfg = Config()
        cfg.formats = tuple(FORMATS)  # csv's access review is computed only when asked for
        result = engine.evaluate(snap, list(builtin_rules), cfg)
        paths = write_reports(result, list(FORMATS), tmp_path / "out")
    finally:
        pg.execute("DROP TABLE IF EXISTS public.t", dbname=fresh_db)
        pg.execute(
            f"DROP ROLE IF EXISTS {_qi(img)}; DROP ROLE IF EXISTS {_qi(script)}; "
            f"DROP ROLE IF EXISTS {_qi(newline)}"
        )

    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    schema = json.loads((schemas_dir() / "report.schema.json").read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert not errors, errors[0].message
    assert doc["scan"]["server_version"].startswith(str(pg.major))
    assert img in {f["role"] for f in doc["findings"]}  # the superuser rule saw it, name exact

    sarif_schema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads(paths["sarif"].read_text(encoding="utf-8"))
    errors = list(
        jsonschema.validators.validator_for(sarif_schema)(sarif_schema).iter_errors(sarif)
    )
    assert not errors, errors[0].message
    assert sarif["runs"][0]["results"]

    junit = paths["junit"].read_text(encoding="utf-8")
    xsd_errors = list(xmlschema.XMLSchema(str(shared_schemas / "junit.xsd")).iter_errors(junit))
    assert not xsd_errors, str(xsd_errors[0])
    root = ET.fromstring(junit.encode())
    names = " ".join(c.get("name") for c in root.iter("testcase"))
    assert all(f" {r.rule.id}" in names for r in result.results)  # every rule has a testcase

    html = paths["html"].read_text(encoding="utf-8")
    assert img not in html and script not in html
    assert "&lt;img src=x onerror=alert(1)&gt; " + tag in html
    assert duplicates(html) == []  # no element id twice (test_html_ids.py)

    text = paths["text"].read_text(encoding="utf-8")
    # the summary lists only the top findings, which depend on what else the shared server
    # holds; wherever the newline role is shown, it is shown escaped on one line
    assert newline not in text
    shown = [ln for ln in text.splitlines() if f"nl\\n{tag}" in ln or f"nl{tag}" in ln]
    assert all(f"nl\\n{tag}" in ln for ln in shown)
    assert not [ln for ln in text.splitlines() if ln.startswith(tag)]
    assert paths["sql"].read_text(encoding="utf-8").strip()
