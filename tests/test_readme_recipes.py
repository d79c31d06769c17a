"""The README's cron, CI and restore recipes, run as written against a real server.

Each recipe is read from README.md (so an edit there is what runs here); only the
connection (a service name or $DATABASE_URL), paths and the database name are replaced,
and ``date`` is a shim so the cron script can live two nights in one test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_support import cli_process

README = Path(__file__).resolve().parent.parent / "README.md"
VENV_BIN = str(Path(sys.executable).parent)


def block(after: str, lang: str) -> str:
    """The first ```lang fenced block after the line containing ``after``; a block indented
    under a list item comes back dedented."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    m = re.compile(rf"^( *)```{lang}\n(.*?)^\1```$", re.M | re.S).search(text, start)
    assert m, f"no {lang} block after {after!r} in README.md"
    return textwrap.dedent(m.group(2))


def sh(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "PATH": os.pathsep.join(
            [
                *([env.pop("EXTRA_PATH")] if "EXTRA_PATH" in env else []),
                VENV_BIN,
                os.environ.get("PATH", ""),
            ]
        ),
        **env,
    }
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, cwd=cwd, env=full, timeout=600
    )


def auditor(pg) -> str:
    name = pg.unique("aud")
    pg.execute(
        f"CREATE ROLE {name} LOGIN; GRANT pg_monitor TO {name}; "
        f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {name}; "
        f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {name}"
    )
    return name


def dump_tools(major: int) -> Path:
    """A bin directory with pg_dump and pg_restore for a server of ``major``: its own, else
    the oldest newer install's (the embedded 13 and 14 builds ship only the server), else
    the system's. pg_dump reads older servers; its archive restores into them for a
    schema this plain."""
    from conftest import installs

    dirs = [Path(i.bin_dir) for v, i in sorted(installs().items()) if v >= major]
    system = shutil.which("pg_dump")
    if system:
        dirs.append(Path(system).parent)
    for d in dirs:
        if (d / "pg_dump").is_file() and (d / "pg_restore").is_file():
            return d
    pytest.fail(f"no pg_dump/pg_restore usable for PostgreSQL {major}")


def restore(bin_dir: Path, dump: Path, pg) -> None:
    """``pg_restore --create``. A newer pg_restore writes CREATE DATABASE options an older
    server does not know (LOCALE_PROVIDER, 15+): then the script goes through psql without
    them, which is how a DBA restores a dump into an older server."""
    sql = subprocess.run(
        [str(bin_dir / "pg_restore"), "--create", "-f", "-", str(dump)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    if pg.major < 15:
        sql = re.sub(r" LOCALE_PROVIDER = \w+", "", sql)
    psql = (
        bin_dir / "psql" if (bin_dir / "psql").is_file() else Path(shutil.which("psql") or "psql")
    )
    done = subprocess.run(
        [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.conninfo()],
        input=sql,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def drop_role(pg, name: str) -> None:
    pg.execute(f"DROP OWNED BY {name}; DROP ROLE IF EXISTS {name}")


def test_cron_script_first_and_second_night(pg, fresh_db, tmp_path):
    aud = auditor(pg)
    try:
        script = block("### Nightly cron with drift", "sh")
        assert script.count("service=db1-audit") == 1 and script.count("/var/lib/pgaudit/db1") == 1
        dsn = pg.conninfo(user=aud, dbname=fresh_db)
        script = script.replace("service=db1-audit", dsn).replace(
            "/var/lib/pgaudit/db1", str(tmp_path / "db1")
        )
        (tmp_path / "cron.sh").write_text(script)
        shim = tmp_path / "bin"
        shim.mkdir()
        (shim / "date").write_text('#!/bin/sh\necho "$FAKE_DATE"\n')
        (shim / "date").chmod(0o755)
        pg.execute("CREATE SCHEMA s; CREATE TABLE s.t (i int);", dbname=fresh_db)

        first = sh(
            f"sh {tmp_path / 'cron.sh'}", tmp_path, EXTRA_PATH=str(shim), FAKE_DATE="2026-01-01"
        )
        assert first.returncode == 0, first.stdout + first.stderr
        assert "first snapshot" in first.stdout and "drift starts tomorrow" in first.stdout
        assert (tmp_path / "db1" / "2026-01-01.snapshot.json.gz").is_file()
        assert (tmp_path / "db1" / "2026-01-01" / "pgaudit-report.html").is_file()

        pg.execute("GRANT INSERT ON s.t TO PUBLIC", dbname=fresh_db)
        second = sh(
            f"sh {tmp_path / 'cron.sh'}", tmp_path, EXTRA_PATH=str(shim), FAKE_DATE="2026-01-02"
        )
        assert second.returncode == 1, second.stdout + second.stderr  # a new high finding
        out = second.stdout
        assert "2026-01-01.snapshot.json.gz -> " in out and "2026-01-02.snapshot.json.gz" in out
        assert "NEW      high     PGR-PRIV-005" in out
        assert f"PUBLIC was granted INSERT on table s.t in {fresh_db}" in out

        # the recipe's history: two runs of target db1, the grant new in the second, and
        # the page rewritten each night
        hist = tmp_path / "db1" / "history"
        assert "PGR-PRIV-005" in (tmp_path / "db1" / "history.html").read_text()
        # the test's own look at the store (not a recipe line): in this process
        trend = cli_process(["history", str(hist), "--format", "json", "--target", "db1"])
        assert trend.returncode == 0, trend.stderr
        runs = json.loads(trend.stdout)["targets"][0]["runs"]
        assert len(runs) == 2 and runs[0]["first"]
        assert [f["rule_id"] for f in runs[1]["new"]].count("PGR-PRIV-005") == 1
        assert runs[1]["resolved"] == [] and runs[1]["unknown"] == []

        # the README's query of the store, run by DuckDB as written
        import duckdb

        sql = block("queries its tables", "sql").replace("/var/lib/pgaudit/db1/history", str(hist))
        rows = duckdb.connect().execute(sql).fetchall()
        # the scan covers the whole test server: only this test's database is known here
        ours = [r for r in rows if r[4] == fresh_db]
        assert [r[2] for r in ours].count("PGR-PRIV-005") == 1
        assert all(r[0] == "db1" and r[3] in ("critical", "high") for r in rows)
    finally:
        drop_role(pg, aud)


def test_prometheus_recipe(pg, fresh_db, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    aud = auditor(pg)
    try:
        script = block("### Alerting with Prometheus", "sh")
        textfile = tmp_path / "textfile"
        script = script.replace(
            "service=db1-audit", pg.conninfo(user=aud, dbname=fresh_db)
        ).replace("/var/lib/node_exporter/textfile", str(textfile))
        pg.execute(
            "CREATE SCHEMA s; CREATE TABLE s.t (i int); GRANT INSERT ON s.t TO PUBLIC",
            dbname=fresh_db,
        )
        done = sh(script, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout == "" and sorted(p.name for p in textfile.iterdir()) == [
            "pgaudit-report.prom"
        ]
        fams = {
            f.name: f.samples
            for f in text_string_to_metric_families((textfile / "pgaudit-report.prom").read_text())
        }
        priv = [s for s in fams["pgaudit_findings"] if s.labels["rule"] == "PGR-PRIV-005"]
        # the scan covers the whole test server (other tests' databases too): the grant of
        # this test is one of them, and revoking it takes exactly one away
        ((target, severity, before),) = [
            (s.labels["target"], s.labels["severity"], s.value) for s in priv
        ]
        assert (target, severity) == ("db1", "high") and before >= 1
        (ts,) = fams["pgaudit_last_successful_scan_timestamp_seconds"]
        import time

        assert abs(time.time() - ts.value) < 300
        pg.execute("REVOKE INSERT ON s.t FROM PUBLIC", dbname=fresh_db)
        again = sh(script, tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        fams = {
            f.name: f.samples
            for f in text_string_to_metric_families((textfile / "pgaudit-report.prom").read_text())
        }
        after = sum(s.value for s in fams["pgaudit_findings"] if s.labels["rule"] == "PGR-PRIV-005")
        assert after == before - 1
    finally:
        drop_role(pg, aud)


def test_configuration_example_loads():
    import tomllib

    from pgaudit_roles.config import config_from_mapping
    from pgaudit_roles.history import Retention

    text = README.read_text(encoding="utf-8")
    start = text.index("## Configuration")
    body = re.search(r"^```toml\n(.*?)^```$", text[start:], re.M | re.S)
    assert body
    cfg = config_from_mapping(tomllib.loads(body.group(1)))
    assert cfg.history["keep"] == Retention(days=400)
    assert str(cfg.history["dir"]) == "/var/lib/pgaudit/history"
    assert cfg.target_name == "billing-prod"


def test_ci_recipe_from_a_clean_directory(pg, fresh_db, tmp_path, shared_schemas):
    aud = auditor(pg)
    try:
        yaml = block("### CI pipeline", "yaml")
        run = yaml.split("run: |\n", 1)[1].split("\n- ", 1)[0]
        run = "\n".join(line[4:] for line in run.splitlines())
        summary_step = re.search(r"^  run: (cat .*)$", yaml, re.M)
        assert summary_step, "the GitHub recipe appends the Markdown summary"
        summary = summary_step.group(1)
        create = block("The baseline is created once", "sh")
        repo = tmp_path / "repo"
        repo.mkdir()
        (repo / ".pgaudit-roles.toml").write_text(f'[naming]\nauditor = ["{aud}"]\n')
        env = {"DATABASE_URL": pg.conninfo(user=aud, dbname=fresh_db)}
        pg.execute(
            "CREATE SCHEMA s; CREATE TABLE s.t (i int); GRANT INSERT ON s.t TO PUBLIC;",
            dbname=fresh_db,
        )

        first = sh(run, repo, **env)  # no baseline yet: one line with the command that makes it
        assert first.returncode == 2, first.stdout + first.stderr
        (line,) = first.stderr.strip().splitlines()
        assert (
            "pgaudit-roles baseline create " in line
            and "--config .pgaudit-roles.toml" in line
            and "-o audit-baseline.json" in line
        )
        assert not (repo / "audit").exists()

        made = sh(create, repo, **env)
        assert made.returncode == 0, made.stderr
        assert (repo / "audit-baseline.json").is_file()

        gate = sh(run, repo, **env)
        assert gate.returncode == 0, gate.stdout + gate.stderr
        step_summary = tmp_path / "step_summary.md"
        step_summary.write_text("earlier step\n")
        appended = sh(summary, repo, GITHUB_STEP_SUMMARY=str(step_summary))
        assert appended.returncode == 0, appended.stderr
        md = step_summary.read_text(encoding="utf-8")
        assert md.startswith("earlier step\n## ") and "pgaudit-roles: PASS" in md
        assert_inert_markdown(md)
        sarif = json.loads((repo / "audit" / "pgaudit-report.sarif").read_text())
        schema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
        assert not list(jsonschema.validators.validator_for(schema)(schema).iter_errors(sarif))
        results = sarif["runs"][0]["results"]
        assert results and {r["baselineState"] for r in results} == {"unchanged"}
        assert (
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == ".pgaudit-roles.toml"
        )

        pg.execute("GRANT UPDATE, DELETE ON s.t TO PUBLIC", dbname=fresh_db)
        widened = sh(run, repo, **env)
        assert widened.returncode == 1, widened.stdout
        shown = " ".join(widened.stdout.split())  # the summary wraps to 80 columns in a pipe
        assert (
            "widened since the baseline: table privileges: INSERT -> DELETE, INSERT, UPDATE"
            in shown
        )
        assert "pgaudit-roles: FAIL" in (repo / "audit" / "pgaudit-report.md").read_text()
    finally:
        drop_role(pg, aud)


def assert_inert_markdown(md: str) -> None:
    """Rendered as GitHub and GitLab would (CommonMark + tables, raw HTML allowed): no HTML
    and no link comes from the report."""
    from markdown_it import MarkdownIt

    toks = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    kinds = {t.type for t in toks} | {c.type for t in toks for c in (t.children or [])}
    assert not kinds & {"html_inline", "html_block", "link_open", "image"}, kinds
    assert "table_open" in kinds


def test_restore_recipe_shows_no_drift(pg, tmp_path):
    db = pg.unique("billing")
    aud = auditor(pg)
    owner, writer = pg.unique("db_owner_billing"), pg.unique("db_writer_billing")
    try:
        pg.create_database(db)
        pg.execute(
            f"CREATE ROLE {owner} NOLOGIN; CREATE ROLE {writer} NOLOGIN; "
            f'GRANT CONNECT ON DATABASE "{db}" TO {writer}'
        )
        pg.execute(
            f"CREATE SCHEMA billing AUTHORIZATION {owner}; "
            f"GRANT USAGE ON SCHEMA billing TO {writer}; "
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA billing "
            f"GRANT SELECT, INSERT ON TABLES TO {writer}; "
            f"SET ROLE {owner}; CREATE TABLE billing.invoices (id int); RESET ROLE; "
            f"GRANT SELECT (id) ON billing.invoices TO PUBLIC",
            dbname=db,
        )
        recipe = block("The checklist's restore item", "sh")
        lines = recipe.strip().splitlines()
        assert len(lines) == 3 and "-d billing" in lines[0]
        dsn = pg.conninfo(user=aud)
        lines = [
            line.replace("service=prod", dsn)
            .replace("service=restore-test", dsn)
            .replace("-d billing", f"-d {db}")
            for line in lines
        ]

        before = sh(lines[0], tmp_path)
        assert before.returncode == 0, before.stderr
        dump = tmp_path / "billing.dump"
        bin_dir = dump_tools(pg.major)
        subprocess.run(
            [str(bin_dir / "pg_dump"), "-Fc", "-f", str(dump), pg.conninfo(dbname=db)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        pg.drop_database(db)
        restore(bin_dir, dump, pg)
        after = sh(lines[1], tmp_path)
        assert after.returncode == 0, after.stderr
        res = sh(lines[2], tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "drift: none" in res.stdout

        # what a restore that lost a grant looks like: exit 1, the drift named
        pg.execute(f"REVOKE INSERT ON billing.invoices FROM {writer}", dbname=db)
        assert sh(lines[1], tmp_path).returncode == 0
        res = sh(lines[2], tmp_path)
        assert res.returncode == 1, res.stdout
        assert (
            f"{writer}: INSERT, SELECT narrowed to SELECT on table billing.invoices in {db}"
            in res.stdout
        )
    finally:
        pg.drop_database(db)
        for role in (writer, owner):
            pg.execute(f"DROP ROLE IF EXISTS {role}")
        drop_role(pg, aud)


def psql_binary(pg) -> Path:
    """A psql for the recipes that pipe into it: the server's own, else any installed one
    (psql of 15 talks to 13-18 for plain SQL; the embedded 13 and 14 builds ship no psql)."""
    from conftest import installs

    own = Path(pg.cluster.bin_dir) / "psql"
    if own.is_file():
        return own
    for _v, inst in sorted(installs().items()):
        if (Path(inst.bin_dir) / "psql").is_file():
            return Path(inst.bin_dir) / "psql"
    found = shutil.which("psql")
    if not found:
        pytest.fail("no psql to run the README's bootstrap recipe with")
    return Path(found)


def libpq_env(pg) -> dict[str, str]:
    """PGHOST/PGPORT/PGUSER for the superuser: how a DBA's shell reaches the cluster."""
    return {
        "PGHOST": str(pg.cluster.socket_dir),
        "PGPORT": str(pg.cluster.port),
        "PGUSER": "postgres",
    }


def test_quick_start_bootstrap_then_scan(pg, fresh_db, tmp_path):
    """Quick start, both steps as written: the bootstrap SQL piped into psql creates an
    auditor that can read pg_hba and enter every database; the scan command then reads the
    whole cluster (no coverage finding) and writes the four reports."""
    bootstrap = block("1. Create the auditing role", "sh").strip()
    assert bootstrap == (
        "pgaudit-roles bootstrap-sql --role pgaudit_auditor --scan-database postgres"
        " | psql -X -d postgres"
    )
    scan_cmd = block("2. Scan. Connection settings follow libpq", "sh")
    assert scan_cmd.count("host=db1") == 1 and "--output-dir report/" in scan_cmd
    # a name of this test's own: other tests on the shared server may use the README's
    auditor_name = pg.unique("pgaudit_auditor")
    bootstrap = bootstrap.replace("pgaudit_auditor", auditor_name)
    scan_cmd = scan_cmd.replace("user=pgaudit_auditor", f"user={auditor_name}")
    psql_dir = str(psql_binary(pg).parent)
    pg.execute(f'REVOKE CONNECT ON DATABASE "{fresh_db}" FROM PUBLIC')  # as the guide says
    try:
        made = sh(
            bootstrap, tmp_path, EXTRA_PATH=f"{VENV_BIN}{os.pathsep}{psql_dir}", **libpq_env(pg)
        )
        assert made.returncode == 0, made.stdout + made.stderr
        assert "ERROR" not in made.stderr, made.stderr
        rows = pg.query(
            "SELECT rolcanlogin, rolsuper, pg_has_role(oid, 'pg_monitor', 'MEMBER') "
            "FROM pg_roles WHERE rolname = %s",
            (auditor_name,),
        )
        assert rows == [(True, False, True)]
        assert pg.query(
            "SELECT has_database_privilege(%s, %s, 'CONNECT')", (auditor_name, fresh_db)
        ) == [(True,)]

        host = f"host={pg.cluster.socket_dir} port={pg.cluster.port}"
        res = sh(scan_cmd.replace("host=db1", host), tmp_path)
        assert res.returncode in (0, 1), res.stdout + res.stderr  # the gate may fail: findings
        assert "Traceback" not in res.stderr
        report = tmp_path / "report"
        names = {p.name for p in report.iterdir()}
        assert {"pgaudit-report.html", "pgaudit-report.json", "pgaudit-report.sql"} <= names
        data = json.loads((report / "pgaudit-report.json").read_text(encoding="utf-8"))
        gaps = data["scan"]["not_collected"]
        assert not {fresh_db, "postgres"} & {m["database"] for m in gaps}, gaps
        # without the optional helper function only password hash types stay unread (low)
        assert {m["source"] for m in gaps if not m["database"]} <= {"password_types"}, gaps
        rule_ids = {f["rule_id"] for f in data["findings"]}
        assert "PGR-COV-002" not in rule_ids, rule_ids
    finally:
        drop_role(pg, auditor_name)


def test_go_live_gate_recipe(pg, fresh_db, tmp_path):
    """The pre-go-live command as written, through a libpq service file: the checklist
    gate fails on a high finding in its scope and the HTML, SQL and text outputs exist."""
    recipe = block("### Pre-go-live gate", "sh")
    assert "service=billing-prod" in recipe and "--output-dir golive/" in recipe
    aud = auditor(pg)
    try:
        pg.execute(f'GRANT CONNECT ON DATABASE "{fresh_db}" TO {aud}')
        services = tmp_path / "pg_service.conf"
        services.write_text(
            f"[billing-prod]\nhost={pg.cluster.socket_dir}\nport={pg.cluster.port}\n"
            f"user={aud}\ndbname={fresh_db}\n",
            encoding="utf-8",
        )
        env = {"PGSERVICEFILE": str(services)}
        clean = sh(recipe, tmp_path, **env)
        assert "Traceback" not in clean.stderr
        html = tmp_path / "golive" / "pgaudit-report.html"
        assert html.is_file() and (tmp_path / "golive" / "pgaudit-report.sql").is_file()
        assert "golive" in html.read_text(encoding="utf-8").lower().replace("-", "")

        # PUBLIC may create in a schema of the application: a high finding in the checklist
        pg.execute("CREATE SCHEMA app; GRANT CREATE ON SCHEMA app TO PUBLIC", dbname=fresh_db)
        gated = sh(recipe, tmp_path, **env)
        assert gated.returncode == 1, gated.stdout + gated.stderr
        assert "PGR-PRIV-002" in gated.stdout or "PGR-PRIV-001" in gated.stdout, gated.stdout
        assert clean.returncode in (0, 1) and gated.returncode >= clean.returncode
    finally:
        drop_role(pg, aud)


@pytest.fixture(scope="class")
def gitlab_job(pg, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The GitLab job's script line as written, run by a shell in a repository with a
    configuration, once per server version for the two tests of ``TestGitLabJob`` (they
    only read what it wrote; class scope: the state it scans is gone before any other
    recipe scans the whole cluster). The auditor's database holds a table granted to PUBLIC
    (a high finding), the cluster a login role with a hostile name (HTML, a javascript:
    link)."""
    yaml = block("GitLab CI, publishing JUnit", "yaml")
    script = re.search(r"^  script:\n    - (.*)$", yaml, re.M).group(1)  # type: ignore[union-attr]
    aud = auditor(pg)
    db = pg.create_database()
    hostile = f"<img src=x onerror=alert(1)> [x](javascript:alert(1)) {pg.unique('h')}"
    quoted = '"' + hostile.replace('"', '""') + '"'
    try:
        pg.execute(f'GRANT CONNECT ON DATABASE "{db}" TO {aud}; ')
        pg.execute(
            "CREATE SCHEMA s; CREATE TABLE s.t (i int); GRANT INSERT ON s.t TO PUBLIC;",
            dbname=db,
        )
        pg.execute(f"CREATE ROLE {quoted} LOGIN", dbname=db)
        repo = tmp_path_factory.mktemp("gitlab") / "repo"
        repo.mkdir()
        (repo / ".pgaudit-roles.toml").write_text(f'[naming]\nauditor = ["{aud}"]\n')
        ran = sh(script, repo, DATABASE_URL=pg.conninfo(user=aud, dbname=db))
        yield {"yaml": yaml, "script": script, "repo": repo, "ran": ran}
    finally:
        pg.execute(f"DROP ROLE IF EXISTS {quoted}", dbname=db)
        pg.drop_database(db)
        drop_role(pg, aud)


class TestGitLabJob:
    """The GitLab CI recipe: the outputs of its script line (run once, ``gitlab_job``) and
    its after_script."""

    def test_gitlab_recipe_posts_the_summary_to_the_merge_request(self, gitlab_job, tmp_path):
        """The GitLab job as written: the scan, then after_script posting the Markdown summary
        as a merge-request note (curl replaced by a shim that records the request: no network)."""
        yaml, repo, ran = gitlab_job["yaml"], gitlab_job["repo"], gitlab_job["ran"]
        after = yaml.split("after_script:\n    - |\n", 1)[1].split("\n  artifacts:", 1)[0]
        after = "\n".join(line[6:] for line in after.splitlines())
        shim = tmp_path / "bin"
        shim.mkdir()
        (shim / "curl").write_text(
            '#!/bin/sh\nprintf "%s\\n" "$@" > "$CURL_LOG"\n'
            'for a in "$@"; do case "$a" in body@*) '
            'cp "${a#body@}" "$CURL_LOG.body";; esac; done\n'
        )
        (shim / "curl").chmod(0o755)
        assert ran.returncode in (0, 1), ran.stdout + ran.stderr
        assert (repo / "audit" / "pgaudit-report.junit.xml").is_file()
        log = tmp_path / "curl.log"
        ci = {
            "CI_MERGE_REQUEST_IID": "7",
            "CI_API_V4_URL": "https://gitlab.example/api/v4",
            "CI_PROJECT_ID": "42",
            "AUDIT_BOT_TOKEN": "tok",
            "CURL_LOG": str(log),
            "EXTRA_PATH": str(shim),
        }
        posted = sh(after, repo, **ci)
        assert posted.returncode == 0, posted.stderr
        args = log.read_text().splitlines()
        assert "https://gitlab.example/api/v4/projects/42/merge_requests/7/notes" in args
        assert "PRIVATE-TOKEN: tok" in args
        body = (tmp_path / "curl.log.body").read_text(encoding="utf-8")
        assert body == (repo / "audit" / "pgaudit-report.md").read_text(encoding="utf-8")
        assert body.startswith("## ") and "### Top risks" in body
        assert_inert_markdown(body)
        log.unlink()
        not_mr = sh(after, repo, **{**ci, "CI_MERGE_REQUEST_IID": ""})  # a branch pipeline
        assert not_mr.returncode == 0 and not log.exists()

    def test_gitlab_scan_recipe_writes_valid_junit(self, gitlab_job, shared_schemas):
        """The GitLab job's script line as written: JUnit and HTML in audit/, the JUnit file
        valid against the JUnit XSD GitLab's parser accepts, the gate failing on a high finding."""
        import xml.etree.ElementTree as ET

        import xmlschema

        yaml = gitlab_job["yaml"]
        (line,) = [
            ln.strip()[2:] for ln in yaml.splitlines() if ln.strip().startswith("- pgaudit-roles")
        ]
        assert line == gitlab_job["script"]  # the line the shared job ran
        res, out = gitlab_job["ran"], gitlab_job["repo"] / "audit"
        assert res.returncode == 1, res.stdout + res.stderr
        junit = out / "pgaudit-report.junit.xml"
        assert junit.is_file() and (out / "pgaudit-report.html").is_file()
        xmlschema.XMLSchema(str(shared_schemas / "junit.xsd")).validate(str(junit))
        doc = ET.parse(junit)
        failed = [c.get("name") for c in doc.iter("testcase") if c.find("failure") is not None]
        assert any("PGR-PRIV-005" in (name or "") for name in failed), failed


def test_configuration_examples_load_as_written(pg, tmp_path):
    """The README's configuration file, waiver and custom rule, written as shown (only the
    directory they name exists): a scan that uses them all starts and gates normally."""
    if pg.major != 18:
        pytest.skip("configuration parsing does not depend on the server version")
    config = block("Discovery: `--config FILE`", "toml")
    waiver = block("Waivers live in a reviewed file", "toml")
    rule = block("## Writing a custom rule", "toml")
    (tmp_path / ".pgaudit-roles.toml").write_text(config, encoding="utf-8")
    (tmp_path / "pgaudit-waivers.toml").write_text(waiver, encoding="utf-8")
    (tmp_path / "audit-rules").mkdir()
    (tmp_path / "audit-rules" / "ACME-ROLE-001.toml").write_text(rule, encoding="utf-8")
    pg.execute("CREATE ROLE contractor_bob LOGIN")
    try:
        snap = tmp_path / "snap.json"
        # the test's own commands around the files (not recipe lines): in this process,
        # which reads the configuration from the working directory as a shell's would
        got = cli_process(["collect", pg.conninfo(), "-o", str(snap), "-q"], cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        shown = cli_process(["check", "snap.json", "--show-config"], cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        for key in ("fail_on", "waivers", "baseline", "framework", "rules_dirs", "lock_timeout"):
            assert key in shown.stdout, (key, shown.stdout)
        missing = cli_process(["check", "snap.json"], cwd=tmp_path)  # its baseline is absent
        assert missing.returncode == 2 and "baseline create" in missing.stderr, missing.stderr
        made = cli_process(
            ["baseline", "create", "snap.json", "-o", "audit-baseline.json"], cwd=tmp_path
        )
        assert made.returncode == 0, made.stderr
        checked = cli_process(
            ["check", "snap.json", "--format", "json", "--output-dir", "out"], cwd=tmp_path
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # the custom rule fires where the README says (outside the config's golive scope,
        # so it is run here without that configuration)
        (tmp_path / "empty.toml").write_text("", encoding="utf-8")
        ruled = cli_process(
            [
                *("check", "snap.json", "--config", "empty.toml", "--rules-dir", "audit-rules"),
                *("--fail-on", "none", "--format", "json", "--output-dir", "rule-out"),
            ],
            cwd=tmp_path,
        )
        assert ruled.returncode == 0, ruled.stdout + ruled.stderr
        report = json.loads(
            (tmp_path / "rule-out" / "pgaudit-report.json").read_text(encoding="utf-8")
        )
        acme = [f for f in report["findings"] if f["rule_id"] == "ACME-ROLE-001"]
        assert [f["role"] for f in acme] == ["contractor_bob"], acme
        linted = cli_process(["waivers", "lint", "pgaudit-waivers.toml"], cwd=tmp_path)
        assert linted.returncode in (0, 1) and "Traceback" not in linted.stderr, linted.stderr
    finally:
        pg.execute("DROP ROLE contractor_bob")
