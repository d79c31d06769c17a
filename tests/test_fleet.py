"""``pgaudit-roles fleet`` against a real fleet: one cluster of every version 13-18 at once.

The fleet: orders in production on 13 and in staging on 16 (the same layout, plus a
grant and a membership that exist only in staging), a database the auditor may not
CONNECT to on 14, a target name full of markup and controls on 18, and a target on a
closed local port. The combined reports must validate (JSON schema, the Ant JUnit XSD,
the SARIF 2.1.0 schema), the unreachable target and the unreadable database must be
findings, and the exit code must follow the gate.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from cli_support import sigint_default
from conftest import VERSIONS, install_for

from pgaudit_roles.core.localpg import LocalCluster, free_port
from pgaudit_roles.core.resources import schemas_dir

pytestmark = pytest.mark.pg

AUDITOR = "pgaudit_auditor"
NASTY = 'billing "prod" <script>alert(1)</script> \u202e'
AUDITOR_SQL = (
    f"CREATE ROLE {AUDITOR} LOGIN; GRANT pg_monitor TO {AUDITOR}; "
    f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {AUDITOR}; "
    f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {AUDITOR}"
)


def orders_layout(env: str) -> list[tuple[str, str]]:
    """(database, sql): the guide's layout for application orders in one environment."""
    return [
        (
            "postgres",
            f"CREATE ROLE db_owner_orders_{env} NOLOGIN; "
            f"CREATE ROLE db_writer_orders_{env} NOLOGIN; "
            f"CREATE ROLE app_orders_{env} LOGIN CONNECTION LIMIT 20 "
            f"IN ROLE db_writer_orders_{env}; "
            f"CREATE DATABASE orders_{env} OWNER db_owner_orders_{env}",
        ),
        (
            f"orders_{env}",
            f"REVOKE ALL ON SCHEMA public FROM PUBLIC; "
            f"CREATE SCHEMA shop AUTHORIZATION db_owner_orders_{env}; "
            f"GRANT USAGE ON SCHEMA shop TO db_writer_orders_{env}; "
            f"SET ROLE db_owner_orders_{env}; "
            "CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric); "
            f"GRANT SELECT, INSERT ON shop.orders TO db_writer_orders_{env}; "
            "RESET ROLE",
        ),
    ]


LAYOUTS: dict[int, list[tuple[str, str]]] = {
    13: orders_layout("prod"),
    16: orders_layout("staging")
    + [
        ("orders_staging", "GRANT DELETE ON shop.orders TO db_writer_orders_staging"),
        ("postgres", "GRANT pg_read_all_data TO app_orders_staging"),
    ],
    14: [("postgres", "CREATE DATABASE locked; REVOKE CONNECT ON DATABASE locked FROM PUBLIC")],
}


@pytest.fixture(scope="module")
def fleet_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import psycopg

    clusters: dict[int, LocalCluster] = {}
    try:
        for major in VERSIONS:
            c = LocalCluster(install_for(major), settings={"max_connections": "30"})
            c.start()
            clusters[major] = c
            with psycopg.connect(c.conninfo(), autocommit=True) as conn:
                conn.execute(AUDITOR_SQL)
            for db, sql in LAYOUTS.get(major, []):
                with psycopg.connect(c.conninfo(dbname=db), autocommit=True) as conn:
                    for statement in sql.split(";"):  # CREATE DATABASE must run alone
                        conn.execute(statement.encode())
        work = tmp_path_factory.mktemp("fleet")
        down_port = free_port()

        def dsn(major: int) -> str:
            return clusters[major].conninfo(user=AUDITOR)

        inventory = work / "fleet.toml"
        inventory.write_text(
            f"""
[defaults]
team = "dba"
timeout = "5min"

[[targets]]
name = "orders-prod"
dsn = {json.dumps(dsn(13))}
environment = "prod"
application = "orders"
tags = ["orders", "eu"]

[[targets]]
name = "orders-staging"
dsn = {json.dumps(dsn(16))}
environment = "staging"
application = "orders"
tags = ["orders"]

[[targets]]
name = "locked-14"
dsn = {json.dumps(dsn(14))}
tags = ["misc"]

[[targets]]
name = "plain-15"
dsn = {json.dumps(dsn(15))}
tags = ["misc"]
config = {{ collect = {{ jobs = 1 }} }}

[[targets]]
name = "plain-17"
dsn = {json.dumps(dsn(17))}
tags = ["misc"]

[[targets]]
name = {json.dumps(NASTY)}
dsn = {json.dumps(dsn(18))}
tags = ["misc"]

[[targets]]
name = "down"
dsn = "host=127.0.0.1 port={down_port} user={AUDITOR} dbname=postgres connect_timeout=3"
tags = ["down"]
""",
            encoding="utf-8",
        )
        yield {
            "clusters": clusters,
            "work": work,
            "inventory": inventory,
            "dsn": dsn,
            "down_port": down_port,
        }
    finally:
        for c in clusters.values():
            c.stop(mode="immediate")


def fleet(env: dict[str, Any], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", "fleet", *args],
        capture_output=True,
        text=True,
        cwd=env["work"],
        timeout=timeout,
    )


def validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((schemas_dir() / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def errors(v: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(doc)][:5]


@pytest.fixture(scope="module")
def full_run(fleet_env: dict[str, Any]) -> dict[str, Any]:
    out = fleet_env["work"] / "out"
    t0 = time.monotonic()
    res = fleet(
        fleet_env,
        str(fleet_env["inventory"]),
        "--output-dir",
        str(out),
        "--parallel",
        "3",
        "--format",
        "json,html,junit,sarif,markdown,prometheus,text",
        "--history",
        str(fleet_env["work"] / "history"),
    )
    assert (out / "fleet-report.json").is_file(), (res.returncode, res.stderr[-3000:])
    doc = json.loads((out / "fleet-report.json").read_text())
    return {"res": res, "out": out, "doc": doc, "seconds": time.monotonic() - t0}


def test_fleet_of_six_versions_reports_validate_and_gate(
    full_run: dict[str, Any], shared_schemas: Path
) -> None:
    res, out, doc = full_run["res"], full_run["out"], full_run["doc"]
    assert res.returncode == 1, res.stderr
    assert errors(validator("fleet-report.schema.json"), doc) == []
    assert doc["summary"]["exit_code"] == 1 and doc["summary"]["verdict"] == "fail"
    targets = {t["name"]: t for t in doc["targets"]}
    assert list(targets) == [
        "orders-prod",
        "orders-staging",
        "locked-14",
        "plain-15",
        "plain-17",
        NASTY,
        "down",
    ]
    # every version at once, each target audited on its own server
    majors = {
        n: int(t["server_version"].split(".")[0]) for n, t in targets.items() if t["server_version"]
    }
    assert majors == {
        "orders-prod": 13,
        "orders-staging": 16,
        "locked-14": 14,
        "plain-15": 15,
        "plain-17": 17,
        NASTY: 18,
    }
    assert doc["summary"]["by_status"]["audited"] == 6

    # the closed port: a high, gating coverage finding of that target; the rest continued
    down = targets["down"]
    assert down["status"] == "unreachable" and "refused" in down["reason"].lower()
    [gap] = [f for f in down["findings"] if f["rule_id"] == "PGR-FLEET-001"]
    assert gap["severity"] == "high" and gap["gating"] and down["verdict"] == "fail"

    # the database the auditor cannot CONNECT to: PGR-COV-001 on that target, gating
    locked = [
        f
        for f in targets["locked-14"]["findings"]
        if f["rule_id"] == "PGR-COV-001" and f["database"] == "locked"
    ]
    assert locked and locked[0]["gating"] and locked[0]["severity"] == "high"
    assert not any(
        f["rule_id"] == "PGR-COV-001" and f["database"] == "locked"
        for f in targets["plain-15"]["findings"]
    )

    # the fleet-wide views are built from the targets' own findings
    spread = {r["rule_id"]: r["targets"] for r in doc["rules"]}
    assert spread["PGR-FLEET-001"] == ["down"]
    assert set(spread["PGR-COV-001"]) >= {"locked-14"}
    assert doc["worst"] and doc["worst"][0]["severity"] in ("critical", "high")
    gating = sum(t["gating"] for t in doc["targets"])
    assert doc["summary"]["gating"] == gating > 0

    # each target's own report: valid against the single-scan schema, and where the
    # combined report says it is
    single = validator("report.schema.json")
    for t in doc["targets"]:
        own = json.loads((out / t["reports"]["json"]).read_text())
        assert errors(single, own) == [], t["name"]
        assert (out / t["reports"]["html"]).is_file()
        assert (t["snapshot"] is not None) == (t["status"] == "audited")
        assert own["summary"]["gating"] == t["gating"]


def test_fleet_junit_sarif_html_markdown(full_run: dict[str, Any], shared_schemas: Path) -> None:
    out, doc = full_run["out"], full_run["doc"]
    xsd = xmlschema.XMLSchema(str(shared_schemas / "junit.xsd"))
    junit = (out / "fleet-report.junit.xml").read_text()
    assert list(xsd.iter_errors(junit)) == []
    suites = ET.fromstring(junit).findall("testsuite")
    assert [s.get("name") for s in suites][:2] == ["target orders-prod", "target orders-staging"]
    assert len(suites) == len(doc["targets"])
    down = suites[-1]
    fails = [c for c in down.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in fails] == ["[HIGH] PGR-FLEET-001"]
    assert all(c.get("classname", "").startswith("down.") for c in down.findall("testcase"))

    sarif = json.loads((out / "fleet-report.sarif").read_text())
    schema = json.loads((shared_schemas / "sarif-schema-2.1.0.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    assert [e.message for e in cls(schema).iter_errors(sarif)][:3] == []
    assert len(sarif["runs"]) == len(doc["targets"])
    ids = [r["automationDetails"]["id"] for r in sarif["runs"]]
    assert len(set(ids)) == len(ids)
    assert [r["properties"]["fleetTarget"]["name"] for r in sarif["runs"]][-1] == "down"

    html = (out / "fleet-report.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html  # bidi control shown escaped, never raw
    rows = html.count('<tr data-target="')
    assert rows == len(doc["targets"])
    for t in doc["targets"]:
        link = t["reports"]["html"]
        assert f'href="{link}"' in html and (out / link).is_file()
    assert 'id="worst-risks"' in html and 'id="rules-across"' in html
    md = (out / "fleet-report.md").read_text()
    assert "| orders-prod | prod | orders |" in md and "<script>" not in md
    assert full_run["res"].stdout.strip().splitlines()[-1].startswith("FAIL: ")


def test_fleet_history_and_prometheus(full_run: dict[str, Any], fleet_env: dict[str, Any]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from pgaudit_roles.history import load

    doc = full_run["doc"]
    store = load(fleet_env["work"] / "history")
    try:
        runs = {r["target"]: r for r in store.runs}
    finally:
        store.close()
    assert set(runs) == {t["name"] for t in doc["targets"]}
    for t in doc["targets"]:
        assert runs[t["name"]]["gating"] == t["gating"], t["name"]
    text = (full_run["out"] / "fleet-report.prom").read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    last = {
        s.labels["target"]
        for s in families["pgaudit_last_successful_scan_timestamp_seconds"].samples
    }
    from pgaudit_roles.reports.common import printable

    # label values show control and bidi characters as visible escapes
    assert last == {printable(t["name"]) for t in doc["targets"] if t["status"] == "audited"}
    failing = {s.labels["target"]: s.value for s in families["pgaudit_gate_failing"].samples}
    assert failing["down"] == 1.0
    # each target's own textfile, beside its other reports
    assert all(
        (full_run["out"] / t["directory"] / "pgaudit-report.prom").is_file() for t in doc["targets"]
    )


def test_fleet_environment_drift(full_run: dict[str, Any]) -> None:
    envs = full_run["doc"]["environments"]
    [e] = [x for x in envs if x["application"] == "orders"]
    assert e["base"] == {"environment": "prod", "target": "orders-prod"}
    assert e["other"] == {"environment": "staging", "target": "orders-staging"}
    assert {"app_orders", "db_writer_orders", "db_owner_orders"} <= set(e["roles_compared"])
    # identical layouts compare equal by name across 13 and 16 ...
    assert e["roles"] == {"only_in_base": [], "only_in_other": [], "changed": []}
    # ... except what was granted in staging only
    extra = [
        (p["privilege"], p["schema"], p["object"], p["grantee"], p["database"])
        for p in e["privileges"]["only_in_other"]
    ]
    assert extra == [("DELETE", "shop", "orders", "db_writer_orders", "orders")]
    assert e["privileges"]["only_in_base"] == []
    assert [(m["role"], m["member"]) for m in e["memberships"]["only_in_other"]] == [
        ("pg_read_all_data", "app_orders")
    ]
    assert e["count"] == 2
    html = (full_run["out"] / "fleet-report.html").read_text()
    assert (
        "DELETE on relation shop.orders in database orders to db_writer_orders: only in staging"
        in html
    )


def test_only_unreachable_targets_exit_3_and_fail_on_none(fleet_env: dict[str, Any]) -> None:
    out = fleet_env["work"] / "down-only"
    res = fleet(
        fleet_env,
        str(fleet_env["inventory"]),
        "--select",
        "tag=down",
        "--output-dir",
        str(out),
        "-q",
    )
    assert res.returncode == 3, res.stderr
    doc = json.loads((out / "fleet-report.json").read_text())
    assert doc["summary"]["exit_code"] == 3 and [t["status"] for t in doc["targets"]] == [
        "unreachable"
    ]
    # the gate off: exit 0, but a fleet with a target not audited is never a pass
    out2 = fleet_env["work"] / "gate-off"
    res = fleet(
        fleet_env,
        str(fleet_env["inventory"]),
        "--select",
        "name=plain-17,down",
        "--fail-on",
        "none",
        "--output-dir",
        str(out2),
        "-q",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads((out2 / "fleet-report.json").read_text())
    assert doc["summary"]["verdict"] == "incomplete" and doc["run"]["incomplete"]


def test_pg_service_conf_inventory_and_sharding(fleet_env: dict[str, Any]) -> None:
    c = fleet_env["clusters"][15]
    services = fleet_env["work"] / "pg_service.conf"
    services.write_text(
        f"[svc-15]\nhost={c.socket_dir}\nport={c.port}\nuser={AUDITOR}\n"
        f"dbname=postgres\n\n[svc-down]\nhost=127.0.0.1\n"
        f"port={fleet_env['down_port']}\nuser={AUDITOR}\nconnect_timeout=3\n"
    )
    out = fleet_env["work"] / "services"
    res = fleet(fleet_env, str(services), "--output-dir", str(out), "--format", "json", "-q")
    assert res.returncode == 1, res.stderr
    doc = json.loads((out / "fleet-report.json").read_text())
    assert doc["run"]["inventory_kind"] == "pg_service"
    assert {t["name"]: t["status"] for t in doc["targets"]} == {
        "svc-15": "audited",
        "svc-down": "unreachable",
    }
    # two shards of the same inventory: disjoint, and together the whole fleet
    seen = []
    for i in range(2):
        o = fleet_env["work"] / f"shard{i}"
        res = fleet(
            fleet_env,
            str(services),
            "--shard",
            f"{i}/2",
            "--output-dir",
            str(o),
            "--format",
            "json",
            "-q",
        )
        doc = json.loads((o / "fleet-report.json").read_text())
        if not doc["targets"]:  # an empty shard: an empty report, exit 0
            assert res.returncode == 0 and doc["summary"]["verdict"] == "pass", res.stderr
        seen += [t["name"] for t in json.loads((o / "fleet-report.json").read_text())["targets"]]
    assert sorted(seen) == ["svc-15", "svc-down"]


class Silent:
    """A TCP server that accepts connections and never answers: a target that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def open_connections(self) -> int:
        """Connections the client has not closed yet (a closed one reads EOF)."""
        alive = 0
        for c in self.conns:
            c.setblocking(False)
            try:
                while c.recv(4096):  # what libpq sent (an SSL request), then EOF or nothing
                    pass
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl_c", "sigterm"]
)
def test_timeout_then_ctrl_c_writes_what_finished(
    fleet_env: dict[str, Any], signum: int, code: int
) -> None:
    silent = Silent()
    name = signal.Signals(signum).name
    try:
        inv = fleet_env["work"] / "hang.toml"
        hang = f"host=127.0.0.1 port={silent.port} user={AUDITOR} dbname=postgres connect_timeout=0"
        inv.write_text(
            f'[[targets]]\nname = "plain-17"\ndsn = {json.dumps(fleet_env["dsn"](17))}\n'
            f'[[targets]]\nname = "hang-short"\ndsn = "{hang}"\ntimeout = "3s"\n'
            f'[[targets]]\nname = "hang"\ndsn = "{hang}"\n',
            encoding="utf-8",
        )
        out = fleet_env["work"] / f"hang-{name}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pgaudit_roles.cli",
                "fleet",
                str(inv),
                "--output-dir",
                str(out),
                "--format",
                "json,html,junit",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=fleet_env["work"],
            preexec_fn=sigint_default,
        )
        assert proc.stderr is not None
        progress = []
        deadline = time.monotonic() + 300
        while len(progress) < 2 and time.monotonic() < deadline:  # plain-17 and hang-short
            line = proc.stderr.readline()
            if not line:
                break
            progress.append(line)
        assert any("hang-short: timeout" in x for x in progress), progress
        assert any("plain-17: audited" in x for x in progress), progress
        assert proc.poll() is None, "the hanging target must still be running"
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == code, stderr
        assert f"interrupted ({name})" in stderr and "Traceback" not in stderr
        doc = json.loads((out / "fleet-report.json").read_text())
        assert errors(validator("fleet-report.schema.json"), doc) == []
        assert doc["run"]["interrupted"] == name and doc["run"]["incomplete"]
        assert doc["summary"]["exit_code"] == code
        status = {t["name"]: t["status"] for t in doc["targets"]}
        assert status == {"plain-17": "audited", "hang-short": "timeout", "hang": "interrupted"}
        timed = [t for t in doc["targets"] if t["name"] == "hang-short"][0]
        assert [f["rule_id"] for f in timed["findings"]] == ["PGR-FLEET-001"]
        assert (out / "fleet-report.html").is_file() and (out / "fleet-report.junit.xml").is_file()
        time.sleep(0.5)
        assert silent.open_connections() == 0, "a stopped target's connection was left open"
        leftovers = [p for p in os.listdir(out) if p.endswith(".tmp") or p.startswith(".")]
        assert leftovers == []
    finally:
        silent.close()
